import type { ReactNode } from "react";
import { ApiError } from "../data/api";

export function Loading({ what }: { what: string }) {
  return (
    <div className="state-box" data-testid="loading">
      <span className="spinner" /> Loading {what}…
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: Error; retry?: () => void }) {
  const status = error instanceof ApiError ? error.status : 0;
  const title =
    status === 404 ? "Not found" : status === 403 ? "Not allowed" : status === 0 ? "Server unreachable" : "Something went wrong";
  return (
    <div className="state-box error" role="alert" data-testid="error">
      <div className="state-title">{title}</div>
      <div>{error.message}</div>
      {retry && (
        <button className="btn" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state-box empty-box" data-testid="empty">
      <div className="state-title">{title}</div>
      {children}
    </div>
  );
}
