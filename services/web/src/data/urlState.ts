import { useCallback, useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";

/**
 * A value kept in the URL's query (shareable, survives reload) that also updates at once in the page:
 * router navigations are asynchronous, and a controlled input must not lag behind the user.
 * `null` removes the parameter; "" keeps it, empty.
 */
export function useUrlParam(name: string): [string | null, (v: string | null) => void] {
  const [params, setParams] = useSearchParams();
  const fromUrl = params.get(name);
  const [value, setValue] = useState<string | null>(fromUrl);
  useEffect(() => setValue(fromUrl), [fromUrl]);
  const set = useCallback(
    (v: string | null) => {
      setValue(v);
      setParams(
        (prev) => {
          const p = new URLSearchParams(prev);
          if (v === null) p.delete(name);
          else p.set(name, v);
          return p;
        },
        { replace: true },
      );
    },
    [name, setParams],
  );
  return [value, set];
}
