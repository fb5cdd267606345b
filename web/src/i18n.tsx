// Kazakh (the default), Russian and English. Every label lives in i18n/<lang>.json with
// the same keys (tests compare the key sets); the choice is kept in localStorage and sent
// to the API as Accept-Language, and the catalog is asked for texts in it (?lang=).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import en from "./i18n/en.json";
import kk from "./i18n/kk.json";
import ru from "./i18n/ru.json";

export type Lang = "kk" | "ru" | "en";
export const LANGS: Lang[] = ["kk", "ru", "en"];
export type Key = keyof typeof en;
const DICTIONARIES: Record<Lang, Record<Key, string>> = { kk, ru, en };

let lang: Lang = (() => {
  const saved = window.localStorage.getItem("lang");
  return saved === "ru" || saved === "en" || saved === "kk" ? saved : "kk";
})();

export function currentLang(): Lang {
  return lang;
}

export type Translate = (key: Key, vars?: Record<string, string | number>) => string;

function translate(language: Lang): Translate {
  return (key, vars) => {
    let text = DICTIONARIES[language][key] ?? key;
    for (const [name, value] of Object.entries(vars ?? {})) text = text.replace(`{${name}}`, String(value));
    return text;
  };
}

interface LangState {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: Translate;
}

const LangContext = createContext<LangState>({ lang, setLang: () => undefined, t: translate(lang) });

export function LangProvider({ children }: { children: ReactNode }) {
  const [chosen, setChosen] = useState<Lang>(lang);
  const setLang = useCallback((l: Lang) => {
    lang = l;
    window.localStorage.setItem("lang", l);
    setChosen(l);
  }, []);
  useEffect(() => {
    document.documentElement.lang = chosen;
    document.title = translate(chosen)("app.title");
  }, [chosen]);
  const value = useMemo(() => ({ lang: chosen, setLang, t: translate(chosen) }), [chosen, setLang]);
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>;
}

export function useI18n(): LangState {
  return useContext(LangContext);
}
