import { Fragment, useMemo, useState } from "react";
import { api } from "../data/api";
import { useResource } from "../data/hooks";
import type { JsonValue } from "../data/types";
import { formatValue } from "../data/values";
import { ErrorBox, Loading } from "./States";

interface Props {
  entity: string;
  project: string;
  by: string;
  metric: string | null;
  filter: string;
  tick: number;
  onShow: (runIds: string[]) => void;
  runName: (id: string) => string | undefined;
}

function label(v: JsonValue): string {
  if (v === null) return "(none)";
  if (typeof v === "string") return v === "" ? '""' : v;
  return formatValue(v);
}

/** Runs grouped by a field on the server: count and mean/min/max of a summary metric per group. */
export function GroupsView({ entity, project, by, metric, filter, tick, onShow, runName }: Props) {
  const res = useResource(
    (signal) => api.groups(entity, project, { by, metric: metric || undefined, filter: filter || undefined }, signal),
    [entity, project, by, metric, filter, tick],
  );
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const groups = res.data?.groups;
  const maxCount = useMemo(() => Math.max(1, ...(groups ?? []).map((g) => g.count)), [groups]);
  if (res.error && !res.data) return <ErrorBox error={res.error} />;
  if (!groups) return <Loading what="groups" />;
  if (!groups.length) return <div className="empty">No run to group.</div>;
  return (
    <div className="groups-view" data-testid="groups-view">
      <table className="table groups-table">
        <thead>
          <tr>
            <th>{by}</th>
            <th className="num">runs</th>
            {metric && (
              <>
                <th className="num">mean</th>
                <th className="num">min</th>
                <th className="num">max</th>
              </>
            )}
            <th />
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => {
            const k = JSON.stringify(g.value);
            return (
              <Fragment key={k}>
                <tr className="group-row" data-testid="group-row">
                  <td>
                    <button className="link-btn group-toggle" onClick={() => setOpen((o) => ({ ...o, [k]: !o[k] }))}>
                      <span className={`caret ${open[k] ? "open" : ""}`}>▸</span> <span className="mono">{label(g.value)}</span>
                    </button>
                    <div className="group-bar" style={{ width: `${(100 * g.count) / maxCount}%` }} />
                  </td>
                  <td className="num">{g.count}</td>
                  {metric && (
                    <>
                      <td className="num mono">{g.metric_count ? formatValue(g.mean) : "—"}</td>
                      <td className="num mono">{g.metric_count ? formatValue(g.min) : "—"}</td>
                      <td className="num mono">{g.metric_count ? formatValue(g.max) : "—"}</td>
                    </>
                  )}
                  <td>
                    <button className="link-btn" onClick={() => onShow(g.run_ids)} title="Chart the newest runs of this group (up to 20)">
                      chart
                    </button>
                  </td>
                </tr>
                {open[k] && (
                  <tr className="group-runs">
                    <td colSpan={metric ? 6 : 3}>
                      {g.run_ids.map((id) => (
                        <a key={id} className="tag" href={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}/runs/${encodeURIComponent(id)}`}>
                          {runName(id) ?? id}
                        </a>
                      ))}
                      {g.count > g.run_ids.length && <span className="muted small">+{g.count - g.run_ids.length} more</span>}
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
      <div className="muted small pad">
        {res.data?.total.toLocaleString("en-US")} runs in {groups.length} groups
      </div>
    </div>
  );
}
