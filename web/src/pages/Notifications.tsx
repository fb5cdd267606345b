// The signed-in person's messages, newest first: "load more" follows the cursor, "unread
// only" asks the API for those alone, and each message can be marked read. Messages come a
// moment after the request changed (through Kafka), so the first page is asked again every
// few seconds and what is new joins the top; what was already shown is updated in place
// (read, email delivered). Below the messages: the language and email consent they are
// sent with (GET/PUT /api/v1/me/notification-preferences).
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { ApiError, fieldErrors, type Problem } from "../api/problem";
import { signIn, useSession } from "../auth";
import { LANGS, useI18n, type Key, type Lang } from "../i18n";
import { listNotes, markRead, useUnread, type Note } from "../notifications";
import { ErrorBox, Loading, useFormat, useLoad } from "../ui";

const PAGE = 20;
const HEAD_EVERY_MS = 5_000;

/** Newest first, as the API orders them: by creation time, then id. */
function newestFirst(a: Note, b: Note): number {
  return b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);
}

/** `shown` with each of `fresh` replacing its older copy, and the ones not yet shown added. */
function merge(shown: Note[], fresh: Note[]): Note[] {
  const byId = new Map(fresh.map((n) => [n.id, n]));
  const kept = shown.map((n) => byId.get(n.id) ?? n);
  const known = new Set(shown.map((n) => n.id));
  return [...kept, ...fresh.filter((n) => !known.has(n.id))].sort(newestFirst);
}

export default function NotificationsPage() {
  const { t, lang } = useI18n();
  const session = useSession();
  const { refresh: refreshCount } = useUnread();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [items, setItems] = useState<Note[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const subject = session.subject;

  useEffect(() => {
    if (!subject) return;
    let live = true;
    setError(null);
    setItems(null);
    setCursor(null);
    listNotes(unreadOnly, null, PAGE).then(
      (page) => {
        if (!live) return;
        setItems(page.items);
        setCursor(page.next_cursor);
      },
      (e: unknown) => live && setError(e),
    );
    const timer = window.setInterval(() => {
      // Only while the page is seen (see useUnread).
      if (document.visibilityState !== "visible") return;
      listNotes(unreadOnly, null, PAGE).then(
        (page) => {
          if (!live) return;
          setError(null);
          setItems((shown) => (shown === null ? shown : merge(shown, page.items)));
        },
        (e: unknown) => live && setError(e),
      );
    }, HEAD_EVERY_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [subject, unreadOnly]);

  // The header's count follows what this page shows: a message arrived, or one was read.
  const unreadShown = items === null ? null : items.filter((n) => n.read_at === null).length;
  useEffect(() => {
    if (unreadShown !== null) refreshCount();
  }, [unreadShown, refreshCount]);

  if (!session.ready) return <Loading />;
  if (!session.user) {
    return (
      <section>
        <h1>{t("notifications.title")}</h1>
        <button type="button" className="primary" onClick={() => void signIn("/notifications", lang)}>
          {t("nav.signIn")}
        </button>
      </section>
    );
  }

  const loadMore = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await listNotes(unreadOnly, cursor, PAGE);
      setItems((shown) => merge(shown ?? [], page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  };
  const read = async (id: string) => {
    try {
      const note = await markRead(id);
      setItems((shown) => merge(shown ?? [], [note]));
    } catch (e) {
      setError(e);
    }
  };
  const requestLink = (n: Note) =>
    session.roles.includes("officer") ? `/officer/requests/${n.request_id}` : `/requests/${n.request_id}`;

  return (
    <section aria-labelledby="notes-title">
      <h1 id="notes-title">{t("notifications.title")}</h1>
      <ErrorBox error={error} />
      <div className="field check">
        <input
          id="unread-only"
          type="checkbox"
          checked={unreadOnly}
          onChange={(e) => setUnreadOnly(e.target.checked)}
        />
        <label htmlFor="unread-only">{t("notifications.unreadOnly")}</label>
      </div>
      {items === null && !error && <Loading />}
      {items !== null && items.length === 0 && (
        <p>{unreadOnly ? t("notifications.noneUnread") : t("notifications.none")}</p>
      )}
      {items !== null && items.length > 0 && (
        <ul className="notes" data-testid="notifications">
          {items.map((n) => (
            <NoteItem key={n.id} note={n} link={requestLink(n)} onRead={() => void read(n.id)} />
          ))}
        </ul>
      )}
      {cursor && items !== null && (
        <p>
          <button type="button" disabled={loadingMore} onClick={() => void loadMore()}>
            {t("notifications.more")}
          </button>
        </p>
      )}
      <Preferences />
    </section>
  );
}

function NoteItem({ note, link, onRead }: { note: Note; link: string; onRead: () => void }) {
  const { t } = useI18n();
  const fmt = useFormat();
  const titleId = `note-${note.id}`;
  const unread = note.read_at === null;
  return (
    <li className={unread ? "note unread" : "note"}>
      <h2 id={titleId}>
        {unread && <span className="badge new">{t("notifications.new")}</span>}
        {note.title}
      </h2>
      <p className="hint">
        <time dateTime={note.created_at}>{fmt.dateTime(note.created_at)}</time>
        {" · "}
        <span data-testid="email-status">{t(`email.${note.email_status ?? "none"}` as Key)}</span>
      </p>
      <p className="note-body">{note.body}</p>
      <p className="note-actions">
        <Link to={link} aria-describedby={titleId}>
          {t("notifications.open")}
        </Link>
        {unread && (
          <button type="button" aria-describedby={titleId} onClick={onRead}>
            {t("notifications.markRead")}
          </button>
        )}
      </p>
    </li>
  );
}

type Prefs = Schemas["Preferences"];

function Preferences() {
  const { t } = useI18n();
  const { data, error } = useLoad(
    async () => unwrap(await api.GET("/api/v1/me/notification-preferences")),
    [],
  );
  const [draft, setDraft] = useState<Prefs | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const prefs = draft ?? data;
  const errors = fieldErrors(problem);

  const change = (next: Prefs) => {
    setDraft(next);
    setSaved(false);
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!prefs) return;
    setBusy(true);
    setProblem(null);
    try {
      setDraft(unwrap(await api.PUT("/api/v1/me/notification-preferences", { body: prefs })));
      setSaved(true);
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : { status: 0, title: t("common.error") });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="prefs-title" className="panel">
      <h2 id="prefs-title">{t("preferences.title")}</h2>
      <ErrorBox error={error} />
      {!prefs && !error && <Loading />}
      {prefs && (
        <form className="stack" onSubmit={(e) => void save(e)}>
          <div className="field">
            <label htmlFor="pref-language">{t("preferences.language")}</label>
            <select
              id="pref-language"
              value={prefs.language ?? "kk"}
              onChange={(e) => change({ ...prefs, language: e.target.value as Lang })}
            >
              {LANGS.map((l) => (
                <option key={l} value={l} lang={l}>
                  {t(`lang.${l}` as Key)}
                </option>
              ))}
            </select>
            {errors.language && <p className="field-error">{errors.language.join(" ")}</p>}
          </div>
          <div className="field check">
            <input
              id="pref-email"
              type="checkbox"
              checked={prefs.email ?? false}
              aria-describedby="pref-email-hint"
              onChange={(e) => change({ ...prefs, email: e.target.checked })}
            />
            <label htmlFor="pref-email">{t("preferences.email")}</label>
          </div>
          <p id="pref-email-hint" className="hint">
            {t("preferences.emailHint")}
          </p>
          {problem && !Object.keys(errors).length && (
            <p role="alert" className="field-error">
              {problem.detail || problem.title}
            </p>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {t("preferences.save")}
          </button>
          <p role="status">{saved ? t("preferences.saved") : ""}</p>
        </form>
      )}
    </section>
  );
}
