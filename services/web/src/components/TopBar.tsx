import { useRef, useState, type ReactNode } from "react";
import { Link } from "react-router-dom";
import { useRole, useSession } from "../session";
import { Logo } from "./Logo";
import { Popover } from "./Popover";

const ROLE_WORDS: Record<string, string> = { owner: "owner", admin: "team admin", member: "member", viewer: "viewer" };

/** Who is signed in, and as what: the instance role, and in a project's pages the role in its entity. */
function UserMenu({ entity }: { entity?: string }) {
  const { viewer, logout } = useSession();
  const here = useRole(entity ?? viewer.entity);
  const ref = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState(false);
  const role = viewer.is_admin ? "Instance admin" : "User";
  const local = entity && !viewer.is_admin && here.known ? (here.role ? ROLE_WORDS[here.role] ?? here.role : "reader") : null;
  return (
    <>
      <button ref={ref} className="user-btn" onClick={() => setOpen((o) => !o)} data-testid="user-menu" aria-expanded={open} aria-haspopup="menu">
        <span className="avatar" aria-hidden>
          {viewer.username.slice(0, 1).toUpperCase()}
        </span>
        <span className="user-name" data-testid="viewer">
          {viewer.username}
        </span>
        <span className={`tag role-tag ${viewer.is_admin ? "" : "role-user"}`} data-testid="viewer-role">
          {local ? `${local} of ${entity}` : viewer.is_admin ? "admin" : "user"}
        </span>
        <span className="caret-down">▾</span>
      </button>
      <Popover anchor={ref} open={open} onClose={() => setOpen(false)} align="end" className="menu-pop" testId="user-pop">
        <div className="menu-who">
          <div className="menu-name">{viewer.username}</div>
          <div className="muted small">
            {role}
            {local ? ` · ${local} of ${entity}` : ""}
          </div>
          <div className="muted small">
            New runs go to <span className="mono">{viewer.entity}</span>
          </div>
        </div>
        <div className="menu-sep" />
        <Link className="menu-item" to="/-/settings" onClick={() => setOpen(false)} data-testid="menu-settings">
          Settings and API keys
        </Link>
        {viewer.is_admin && (
          <Link className="menu-item" to="/-/settings/admin/users" onClick={() => setOpen(false)} data-testid="menu-admin">
            Administration
          </Link>
        )}
        <div className="menu-sep" />
        <button className="menu-item" onClick={() => void logout()} data-testid="logout">
          Sign out
        </button>
      </Popover>
    </>
  );
}

export function TopBar({ crumbs, entity }: { crumbs?: ReactNode; entity?: string }) {
  return (
    <header className="topbar">
      <Link to="/" className="topbar-home">
        <Logo small />
      </Link>
      <nav className="crumbs">{crumbs}</nav>
      <div className="topbar-right">
        <UserMenu entity={entity} />
      </div>
    </header>
  );
}

/** Projects / entity / project / current: the breadcrumbs of a project's pages (the last part is not a link). */
export function ProjectCrumbs({ entity, project, current }: { entity: string; project: string; current?: ReactNode }) {
  return (
    <>
      <Link to="/">Projects</Link>
      <span className="crumb-sep">/</span>
      <Link to={`/?entity=${encodeURIComponent(entity)}`}>{entity}</Link>
      <span className="crumb-sep">/</span>
      {current === undefined ? (
        <span className="crumb-current">{project}</span>
      ) : (
        <>
          <Link to={`/${encodeURIComponent(entity)}/${encodeURIComponent(project)}`}>{project}</Link>
          <span className="crumb-sep">/</span>
          <span className="crumb-current">{current}</span>
        </>
      )}
    </>
  );
}
