// Syntax highlighting: highlight.js core with a few languages (small bundle), output escaped by highlight.js.
import hljs from "highlight.js/lib/core";
import python from "highlight.js/lib/languages/python";
import json from "highlight.js/lib/languages/json";
import yaml from "highlight.js/lib/languages/yaml";
import bash from "highlight.js/lib/languages/bash";
import diff from "highlight.js/lib/languages/diff";
import markdown from "highlight.js/lib/languages/markdown";
import ini from "highlight.js/lib/languages/ini";
import javascript from "highlight.js/lib/languages/javascript";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import css from "highlight.js/lib/languages/css";
import sql from "highlight.js/lib/languages/sql";
import plaintext from "highlight.js/lib/languages/plaintext";

const LANGUAGES = { python, json, yaml, bash, diff, markdown, ini, javascript, typescript, xml, css, sql, plaintext };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

const BY_EXT: Record<string, string> = {
  py: "python", pyi: "python", json: "json", jsonl: "json", yaml: "yaml", yml: "yaml", sh: "bash", bash: "bash",
  patch: "diff", diff: "diff", md: "markdown", toml: "ini", ini: "ini", cfg: "ini", js: "javascript", mjs: "javascript",
  ts: "typescript", tsx: "typescript", html: "xml", xml: "xml", svg: "xml", css: "css", sql: "sql",
};

export function languageOf(path: string): string {
  const name = path.split("/").pop() ?? "";
  const ext = name.includes(".") ? name.split(".").pop()!.toLowerCase() : "";
  if (name === "requirements.txt") return "plaintext";
  return BY_EXT[ext] ?? "plaintext";
}

/** HTML of highlighted code (every character of `code` escaped by highlight.js). */
export function highlight(code: string, lang: string): string {
  if (code.length > 1_000_000) lang = "plaintext"; // keep huge files responsive
  try {
    return hljs.highlight(code, { language: hljs.getLanguage(lang) ? lang : "plaintext", ignoreIllegals: true }).value;
  } catch {
    return hljs.highlight(code, { language: "plaintext" }).value;
  }
}
