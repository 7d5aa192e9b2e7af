// /-/settings (`-` can start no entity name, so no project page is shadowed): the signed-in user's API keys, password and teams; /-/settings/admin/*: the instance's users,
// invites and audit log (instance admins).
import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { useSession } from "../session";
import { TopBar } from "../components/TopBar";
import { AuditAdmin, InvitesAdmin, UsersAdmin } from "./Admin";
import { KeysSettings } from "./Keys";
import { PasswordSettings } from "./Password";
import { TeamDetail, TeamsSettings } from "./Teams";
import { RemotesSettings } from "../transfers/RemotesSettings";

export function SettingsPage() {
  const { viewer } = useSession();
  const link = (to: string, label: string, end = false) => (
    <NavLink to={to} end={end} className={({ isActive }) => `settings-link ${isActive ? "active" : ""}`}>
      {label}
    </NavLink>
  );
  return (
    <div className="page">
      <TopBar crumbs={<span className="crumb-current">Settings</span>} />
      <main className="content narrow settings-layout">
        <nav className="settings-nav" data-testid="settings-nav">
          <div className="picker-title">{viewer.username}</div>
          {link("/-/settings", "API keys", true)}
          {link("/-/settings/password", "Password")}
          {link("/-/settings/teams", viewer.is_admin ? "Teams and roles" : "Teams")}
          {viewer.is_admin && (
            <>
              <div className="picker-title settings-group">Administration</div>
              {link("/-/settings/admin/users", "Users")}
              {link("/-/settings/admin/invites", "Invites and sign-up")}
              {link("/-/settings/admin/audit", "Audit log")}
              {link("/-/settings/admin/remotes", "Remote instances")}
            </>
          )}
        </nav>
        <div className="settings-main">
          <Routes>
            <Route index element={<KeysSettings />} />
            <Route path="password" element={<PasswordSettings />} />
            <Route path="teams" element={<TeamsSettings />} />
            <Route path="teams/:team" element={<TeamDetail />} />
            <Route path="admin/users" element={viewer.is_admin ? <UsersAdmin /> : <Navigate to="/-/settings" replace />} />
            <Route path="admin/invites" element={viewer.is_admin ? <InvitesAdmin /> : <Navigate to="/-/settings" replace />} />
            <Route path="admin/audit" element={viewer.is_admin ? <AuditAdmin /> : <Navigate to="/-/settings" replace />} />
            <Route path="admin/remotes" element={viewer.is_admin ? <RemotesSettings /> : <Navigate to="/-/settings" replace />} />
            <Route path="*" element={<Navigate to="/-/settings" replace />} />
          </Routes>
        </div>
      </main>
    </div>
  );
}
