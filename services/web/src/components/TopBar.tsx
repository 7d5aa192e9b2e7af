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
