// The app's shell: language, session, the routes. Pages past the catalog are loaded on
// demand, so a resident's first page carries only what it shows (the form library comes
// with the application pages).
import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Route, Routes } from "react-router";
import { SessionProvider } from "./auth";
import { LangProvider } from "./i18n";
import { Layout } from "./Layout";
import { UnreadProvider } from "./notifications";
import { Loading } from "./ui";
import { CatalogPage } from "./pages/Catalog";
import "./styles.css";

const ServicePage = lazy(() => import("./pages/Service"));
const RegisterPage = lazy(() => import("./pages/Register"));
const CallbackPage = lazy(() => import("./pages/Callback"));
const ApplyPage = lazy(() => import("./pages/Apply"));
const MyRequestsPage = lazy(() => import("./pages/MyRequests"));
const RequestPage = lazy(() => import("./pages/RequestView"));
const QueuePage = lazy(() => import("./pages/OfficerQueue"));
const OfficerRequestPage = lazy(() => import("./pages/OfficerRequest"));
const NotificationsPage = lazy(() => import("./pages/Notifications"));
const NotFoundPage = lazy(() => import("./pages/NotFound"));

// A page joins here and, when it is a section of its own, in NAV (Layout.tsx).
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LangProvider>
      <SessionProvider>
        <UnreadProvider>
          <BrowserRouter>
            <Layout>
              <Suspense fallback={<Loading />}>
                <Routes>
                  <Route path="/" element={<CatalogPage />} />
                  <Route path="/services/:id" element={<ServicePage />} />
                  <Route path="/services/:id/apply" element={<ApplyPage />} />
                  <Route path="/register" element={<RegisterPage />} />
                  <Route path="/callback" element={<CallbackPage />} />
                  <Route path="/requests" element={<MyRequestsPage />} />
                  <Route path="/requests/:id" element={<RequestPage />} />
                  <Route path="/officer" element={<QueuePage />} />
                  <Route path="/officer/requests/:id" element={<OfficerRequestPage />} />
                  <Route path="/notifications" element={<NotificationsPage />} />
                  <Route path="*" element={<NotFoundPage />} />
                </Routes>
              </Suspense>
            </Layout>
          </BrowserRouter>
        </UnreadProvider>
      </SessionProvider>
    </LangProvider>
  </StrictMode>,
);
