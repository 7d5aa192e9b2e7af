import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useSession } from "../session";
import { Logo } from "./Logo";

export function TopBar({ crumbs }: { crumbs?: ReactNode }) {
  const { viewer, logout } = useSession();
  return (
    <header className="topbar">
      <Link to="/" className="topbar-home">
        <Logo small />
      </Link>
      <nav className="crumbs">{crumbs}</nav>
      <div className="topbar-right">
        <span className="muted small" data-testid="viewer">
          {viewer.username}
          {viewer.is_admin && <span className="tag role-tag">admin</span>}
        </span>
        <button className="btn btn-sm" onClick={() => void logout()} data-testid="logout">
          Sign out
        </button>
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
