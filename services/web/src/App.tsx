import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { api, ApiError, hasSessionCookie, onUnauthorized } from "./data/api";
import type { Viewer } from "./data/types";
import { SessionContext } from "./session";
import { ErrorBox, Loading } from "./components/States";
import { SetupPage } from "./pages/SetupPage";
import { LoginPage } from "./pages/LoginPage";
import { ProjectsPage } from "./pages/ProjectsPage";
import { WorkspacePage } from "./pages/WorkspacePage";
import "./components/TensorBoardExtension"; // registers the TensorBoard run tab and workspace action
import "./transfers/CopyExtension"; // registers "Copy to instance…" on runs, charted runs and projects
// Run and compare pages carry the code highlighter, notebook renderer and diff: loaded when first opened.
const RunPage = lazy(() => import("./pages/RunPage").then((m) => ({ default: m.RunPage })));
const ComparePage = lazy(() => import("./pages/ComparePage").then((m) => ({ default: m.ComparePage })));
const SettingsPage = lazy(() => import("./settings/SettingsPage").then((m) => ({ default: m.SettingsPage })));
const ArtifactsPage = lazy(() => import("./artifacts/ArtifactsPage").then((m) => ({ default: m.ArtifactsPage })));
const VersionPage = lazy(() => import("./artifacts/VersionPage").then((m) => ({ default: m.VersionPage })));
const CopiesPage = lazy(() => import("./transfers/CopiesPage").then((m) => ({ default: m.CopiesPage })));
const TensorBoardPage = lazy(() => import("./components/TensorBoardView").then((m) => ({ default: m.TensorBoardPage })));

type Gate = { kind: "loading" } | { kind: "setup" } | { kind: "login" } | { kind: "in"; viewer: Viewer } | { kind: "error"; error: Error };

export function App() {
  const [gate, setGate] = useState<Gate>({ kind: "loading" });
  const navigate = useNavigate();
  const location = useLocation();

  const check = useCallback(async () => {
    try {
      // Without the session's CSRF cookie there is no session: no viewer probe (it could only answer 401,
      // a red line in the console of every fresh visit). With it, both at once: one round trip less.
      const signedIn = hasSessionCookie();
      const viewerP = signedIn ? api.viewer(true) : null;
      viewerP?.catch(() => undefined);
      const info = await api.serverInfo();
      if (info.needs_setup) return setGate({ kind: "setup" });
      if (!viewerP) return setGate({ kind: "login" });
      setGate({ kind: "in", viewer: await viewerP });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setGate({ kind: "login" });
      else setGate({ kind: "error", error: e as Error });
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  // A 401 from any call: the session ended; show the login page and come back here afterwards.
  useEffect(
    () =>
      onUnauthorized(() => {
        setGate({ kind: "login" });
      }),
    [],
  );

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setGate({ kind: "login" });
      navigate("/login");
    }
  }, [navigate]);

  const path = location.pathname;
  if (gate.kind === "loading") return <Loading what="Runyard" />;
  if (gate.kind === "error")
    return (
      <div className="center-page">
        <ErrorBox error={gate.error} retry={() => void check()} />
      </div>
    );
  if (gate.kind === "setup") {
    if (path !== "/setup") return <Navigate to="/setup" replace />;
    return <SetupPage onDone={() => void check()} />;
  }
  if (gate.kind === "login") {
    const invite = new URLSearchParams(location.search).get("invite");
    if (path === "/signup" && invite) return <SetupPage onDone={() => void check()} invite={invite} />;
    if (path !== "/login") {
      const next = path === "/setup" ? "/" : path + location.search;
      return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
    }
    return <LoginPage onLoggedIn={() => void check()} />;
  }
  // Signed in.
  return (
    <SessionContext.Provider value={{ viewer: gate.viewer, logout }}>
      <Routes>
        <Route path="/setup" element={<Navigate to="/" replace />} />
        <Route path="/login" element={<AfterLogin />} />
        <Route path="/signup" element={<Navigate to="/" replace />} />
        <Route
          path="/-/settings/*"
          element={
            <Suspense fallback={<Loading what="settings" />}>
              <SettingsPage />
            </Suspense>
          }
        />
        <Route
          path="/:entity/:project/artifacts"
          element={
            <Suspense fallback={<Loading what="artifacts" />}>
              <ArtifactsPage />
            </Suspense>
          }
        />
        <Route
          path="/:entity/:project/artifacts/:name/:version"
          element={
            <Suspense fallback={<Loading what="artifact" />}>
              <VersionPage />
            </Suspense>
          }
        />
        <Route path="/" element={<ProjectsPage />} />
        <Route path="/:entity/:project" element={<WorkspacePage />} />
        <Route
          path="/:entity/:project/runs/:runId"
          element={
            <Suspense fallback={<Loading what="run" />}>
              <RunPage />
            </Suspense>
          }
        />
        <Route
          path="/:entity/:project/compare"
          element={
            <Suspense fallback={<Loading what="comparison" />}>
              <ComparePage />
            </Suspense>
          }
        />
        <Route
          path="/:entity/:project/copies"
          element={
            <Suspense fallback={<Loading what="copies" />}>
              <CopiesPage />
            </Suspense>
          }
        />
        <Route
          path="/:entity/:project/tensorboard"
          element={
            <Suspense fallback={<Loading what="TensorBoard" />}>
              <TensorBoardPage />
            </Suspense>
          }
        />
        <Route
          path="*"
          element={
            <div className="center-page">
              <ErrorBox error={new ApiError(404, `No page at ${path}.`)} />
              <Link to="/">Back to projects</Link>
            </div>
          }
        />
      </Routes>
    </SessionContext.Provider>
  );
}

function AfterLogin() {
  const next = new URLSearchParams(useLocation().search).get("next");
  return <Navigate to={next && next.startsWith("/") && !next.startsWith("//") ? next : "/"} replace />;
}
