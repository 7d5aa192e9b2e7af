import { useEffect, useState } from "react";

interface Props {
  value: string;
  onApply: (v: string | null) => void;
  error: string | null;
}

const EXAMPLE = 'config.lr < 0.01 and (state = finished or tags contains "best")';

/** The runs filter expression (evaluated by the server); applied on Enter, errors shown with their position. */
export function FilterBar({ value, onApply, error }: Props) {
  const [text, setText] = useState(value);
  const [help, setHelp] = useState(false);
  useEffect(() => setText(value), [value]);
  const dirty = text.trim() !== value.trim();
  // the server names a 1-based position: point at it under the expression that was sent
  const m = error ? /at position (\d+)/.exec(error) : null;
  const caret = m ? Math.min(Number(m[1]) - 1, value.length) : null;
  return (
    <div className="filter-bar">
      <div className="filter-row">
        <input
          className={`input input-sm mono filter-input ${error ? "invalid" : ""}`}
          placeholder={`Filter: ${EXAMPLE}`}
          value={text}
          spellCheck={false}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") onApply(text.trim() || null);
            if (e.key === "Escape") setText(value);
          }}
          data-testid="runs-expr"
          aria-label="Filter expression"
        />
        {dirty && (
          <button className="btn btn-sm" onClick={() => onApply(text.trim() || null)} data-testid="runs-expr-apply">
            Apply
          </button>
        )}
        {value && !dirty && (
          <button className="btn btn-sm" onClick={() => onApply(null)} title="Remove the filter">
            Clear
          </button>
        )}
        <button className="link-btn" onClick={() => setHelp((h) => !h)} aria-expanded={help}>
          {help ? "hide help" : "help"}
        </button>
      </div>
      {error && (
        <div className="error-inline filter-error" role="alert" data-testid="runs-expr-error">
          {error}
          {caret !== null && (
            <pre className="filter-caret">
              {value}
              {"\n" + " ".repeat(caret) + "^"}
            </pre>
          )}
        </div>
      )}
      {help && (
        <div className="filter-help small">
          <div>
            Fields: <code>name state tags group job_type host id created_at updated_at config.KEY summary.KEY</code>
          </div>
          <div>
            Operators: <code>= != &lt; &lt;= &gt; &gt;=</code>, <code>contains</code>, <code>in (a, b)</code>, <code>not in</code>;
            combine with <code>and or not ( )</code>. Numbers compare numerically; text needs quotes when it has spaces.
          </div>
          <div>
            Example: <code>{EXAMPLE}</code>
          </div>
        </div>
      )}
    </div>
  );
}
