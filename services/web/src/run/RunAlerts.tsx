// The alerts a run raised (`runyard.alert()`, GET .../alerts), newest first, at the top of its Overview;
// nothing is shown for a run without alerts. Followed live while the run runs (the page's tick).
import { api } from "../data/api";
import { useResource } from "../data/hooks";
import { formatDate, timeAgo } from "../data/values";

const LEVEL_CLASS: Record<string, string> = { INFO: "alert-info", WARN: "alert-warn", ERROR: "alert-error" };

export function RunAlerts({ entity, project, runId, tick }: { entity: string; project: string; runId: string; tick: number }) {
  const res = useResource((signal) => api.alerts(entity, project, runId, signal), [entity, project, runId, tick]);
  const data = res.data;
  if (!data || data.total === 0) return null;
  return (
    <div className="card overview run-alerts" data-testid="run-alerts">
      <h2>
        Alerts <span className="muted small" data-testid="alerts-count">{data.total.toLocaleString("en-US")}</span>
        {data.total > data.alerts.length && <span className="muted small"> (newest {data.alerts.length} shown)</span>}
      </h2>
      <ul className="alert-list">
        {data.alerts.map((a) => {
          const level = a.level ?? "INFO";
          return (
            <li key={a.id} className={`alert-item ${LEVEL_CLASS[level] ?? ""}`} data-testid="run-alert" data-level={level}>
              <span className={`alert-level ${LEVEL_CLASS[level] ?? ""}`}>{level}</span>
              <div className="alert-body">
                <div>
                  <b data-testid="alert-title">{a.title}</b>
                  <span className="muted small" title={formatDate(a.created_at)}>
                    {a.step != null ? ` · step ${a.step.toLocaleString("en-US")}` : ""} · {timeAgo(a.created_at)}
                  </span>
                </div>
                {a.text && <div className="alert-text">{a.text}</div>}
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
