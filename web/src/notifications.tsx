// The signed-in person's messages (the notifications service, GET /api/v1/notifications):
// the unread count the header shows, kept fresh by a slow poll, on every navigation and
// whenever a page marks a message read (refresh()). The messages come from Kafka events a
// moment after the request changed, so a count that never re-asked would fall behind.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, unwrap, type Schemas } from "./api/client";
import { useSession } from "./auth";

export type Note = Schemas["NotificationRead"];
export type NotePage = Schemas["NotificationPage"];

/** How often the header re-asks for the unread count. */
const COUNT_EVERY_MS = 30_000;
/** Past this many unread the header shows "99+": the count is one page, never a scan. */
const COUNT_PAGE = 100;

export async function listNotes(unread: boolean, cursor: string | null, limit: number): Promise<NotePage> {
  return unwrap(
    await api.GET("/api/v1/notifications", {
      params: { query: { unread: unread || undefined, cursor: cursor ?? undefined, limit } },
    }),
  );
}

export async function markRead(id: string): Promise<Note> {
  return unwrap(
    await api.POST("/api/v1/notifications/{notification_id}/read", {
      params: { path: { notification_id: id } },
    }),
  );
}

interface Unread {
  /** Unread messages (null: not known, or not signed in). */
  count: number | null;
  refresh: () => void;
}

const UnreadContext = createContext<Unread>({ count: null, refresh: () => undefined });

export function UnreadProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const [count, setCount] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const signedIn = session.subject;
  useEffect(() => {
    if (!signedIn) {
      setCount(null);
      return;
    }
    let live = true;
    const load = () =>
      listNotes(true, null, COUNT_PAGE).then(
        (page) => live && setCount(page.items.length + (page.next_cursor ? 1 : 0)),
        // A count that could not be had is left as it was: the badge is a hint, not a page.
        () => undefined,
      );
    void load();
    // A tab in the background asks nothing: thousands of forgotten tabs would otherwise
    // poll the inbox all day.
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, COUNT_EVERY_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [signedIn, tick]);
  const refresh = useCallback(() => setTick((n) => n + 1), []);
  const value = useMemo(() => ({ count, refresh }), [count, refresh]);
  return <UnreadContext.Provider value={value}>{children}</UnreadContext.Provider>;
}

export function useUnread(): Unread {
  return useContext(UnreadContext);
}
