// Small pieces every page shares: loading and error states, statuses, dates, fees.
import { useEffect, useState } from "react";
import { ApiError } from "./api/problem";
import { useI18n, type Key, type Lang } from "./i18n";
import type { Status } from "./api/client";

export function Loading() {
  const { t } = useI18n();
  return (
    <p role="status" className="loading">
      {t("common.loading")}
    </p>
  );
}

/** A problem from the API (or any failure), announced to screen readers. */
export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : null;
  return (
    <div role="alert" className="error">
      <p>
        <strong>{problem?.title ?? t("common.error")}</strong>
      </p>
      {problem?.detail && <p>{problem.detail}</p>}
    </div>
  );
}

export function StatusBadge({ status }: { status: Status }) {
  const { t } = useI18n();
  return <span className={`badge status-${status}`}>{t(`status.${status}` as Key)}</span>;
}

const LOCALES: Record<Lang, string> = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB" };

export function useFormat() {
  const { lang } = useI18n();
  const locale = LOCALES[lang];
  return {
    date: (iso: string) => new Date(iso.length === 10 ? `${iso}T00:00:00` : iso).toLocaleDateString(locale),
    dateTime: (iso: string) => new Date(iso).toLocaleString(locale),
    money: (amount: number) => `${new Intl.NumberFormat(locale).format(amount)} ₸`,
  };
}

/** Load something for a page; reload() runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (d) => live && setData(d),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}
