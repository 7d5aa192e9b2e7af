"""SQL of `storage_objects`: stored objects and the upload sessions they are while pending.

The artifact service is the only writer of this table (uploads here, deletion in `gc`). Callers open the
transactions; `lock` and `claim_ready` take row locks that only mean something inside one.
"""

from __future__ import annotations

import asyncpg


async def lock(conn: asyncpg.Connection, entity_id: int, sha256: str) -> asyncpg.Record | None:
    """The object of `sha256` in the storage scope, locked until the caller's transaction ends."""
    return await conn.fetchrow(
        "SELECT * FROM storage_objects WHERE entity_id = $1 AND sha256 = $2 FOR UPDATE", entity_id, sha256
    )


async def insert_pending(conn: asyncpg.Connection, entity_id: int, sha256: str, size: int, md5: str, key: str,
                         token: str, part_size: int | None, user_id: int) -> asyncpg.Record | None:
    """A new pending object; None when another client inserted the same one a moment ago."""
    return await conn.fetchrow(
        """INSERT INTO storage_objects (entity_id, sha256, size, md5, key, upload_token, part_size, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (entity_id, sha256) DO NOTHING RETURNING *""",
        entity_id, sha256, size, md5, key, token, part_size, user_id,
    )


async def touch(conn: asyncpg.Connection, object_id: int) -> None:
    """Keep the object out of the GC's reach for another grace period."""
    await conn.execute("UPDATE storage_objects SET touched_at = now() WHERE id = $1", object_id)


async def idle_for(conn: asyncpg.Connection, object_id: int, seconds: float) -> bool:
    """True when the object was last touched more than `seconds` ago."""
    return bool(await conn.fetchval(
        "SELECT now() - touched_at > make_interval(secs => $2) FROM storage_objects WHERE id = $1",
        object_id, float(seconds),
    ))


async def restart(conn: asyncpg.Connection, object_id: int, size: int, md5: str, part_size: int | None, token: str,
                  user_id: int) -> asyncpg.Record:
    """Take over a pending upload for other bytes: a fresh session (token), no multipart upload yet."""
    row = await conn.fetchrow(
        """UPDATE storage_objects SET size = $2, md5 = $3, part_size = $4, s3_upload_id = NULL,
                  upload_token = $5, touched_at = now(), created_by = $6
            WHERE id = $1 RETURNING *""",
        object_id, size, md5, part_size, token, user_id,
    )
    assert row is not None
    return row


async def set_multipart_id(conn: asyncpg.Connection, object_id: int, expected: str | None, new: str) -> bool:
    """Record the bucket's multipart upload id unless another one replaced `expected` meanwhile."""
    won = await conn.fetchval(
        """UPDATE storage_objects SET s3_upload_id = $3, touched_at = now()
            WHERE id = $1 AND state = 'pending' AND s3_upload_id IS NOT DISTINCT FROM $2 RETURNING s3_upload_id""",
        object_id, expected, new,
    )
    return won is not None


async def multipart_id(conn: asyncpg.Connection, object_id: int) -> str | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT s3_upload_id FROM storage_objects WHERE id = $1", object_id
    )


async def by_token(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """The object whose upload session is `token`."""
    return await conn.fetchrow("SELECT * FROM storage_objects WHERE upload_token = $1", token)


async def mark_ready(conn: asyncpg.Connection, object_id: int, etag: str) -> None:
    """The bytes were verified (their SHA-256 too): the object may be referenced (a no-op unless it is
    still pending)."""
    await conn.execute(
        """UPDATE storage_objects SET state = 'ready', completed_at = now(), touched_at = now(), etag = $2,
                  s3_upload_id = NULL, verified_at = now() WHERE id = $1 AND state = 'pending'""",
        object_id, etag,
    )


async def mark_verified(conn: asyncpg.Connection, object_id: int) -> None:
    """An object stored before verification existed was hashed and matched its address."""
    await conn.execute("UPDATE storage_objects SET verified_at = now(), touched_at = now() WHERE id = $1", object_id)


async def reopen(conn: asyncpg.Connection, object_id: int, size: int, md5: str, part_size: int | None, token: str,
                 user_id: int) -> asyncpg.Record:
    """A stored object whose bytes do not match its address becomes an upload again, for honest bytes to
    replace them under the same key (whoever referred to it gets what the address promised)."""
    row = await conn.fetchrow(
        """UPDATE storage_objects SET state = 'pending', size = $2, md5 = $3, part_size = $4, s3_upload_id = NULL,
                  upload_token = $5, touched_at = now(), created_by = $6, verified_at = NULL, etag = ''
            WHERE id = $1 RETURNING *""",
        object_id, size, md5, part_size, token, user_id,
    )
    assert row is not None
    return row


async def delete_pending(conn: asyncpg.Connection, object_id: int) -> None:
    await conn.execute("DELETE FROM storage_objects WHERE id = $1 AND state = 'pending'", object_id)


async def claim_ready(conn: asyncpg.Connection, entity_id: int, sha256s: list[str], user_id: int
                      ) -> list[asyncpg.Record]:
    """Lock and touch the ready objects among `sha256s` (id, sha256, size) that are verified or the caller's
    own uploads; the others are left out (an unverified object of someone else is uploaded again first)."""
    return await conn.fetch(
        """UPDATE storage_objects SET touched_at = now()
            WHERE id IN (SELECT id FROM storage_objects
                          WHERE entity_id = $1 AND sha256 = ANY($2::text[]) AND state = 'ready'
                            AND (verified_at IS NOT NULL OR created_by = $3)
                          ORDER BY id FOR UPDATE)
              AND state = 'ready'
            RETURNING id, sha256, size""",
        entity_id, sha256s, user_id,
    )


async def own_by_md5(conn: asyncpg.Connection, entity_id: int, md5s: list[str], user_id: int) -> list[asyncpg.Record]:
    """Ready objects with one of these MD5s (md5, size, sha256: one row per MD5 and size) that `user_id`
    stored in the scope. Staged uploads (staging.py) skip sending such bytes again. Only the caller's own:
    MD5 collisions can be made, so an MD5 never stands for someone else's bytes (their SHA-256 does)."""
    return await conn.fetch(
        """SELECT DISTINCT ON (md5, size) md5, size, sha256 FROM storage_objects
            WHERE entity_id = $1 AND md5 = ANY($2::text[]) AND state = 'ready' AND created_by = $3
            ORDER BY md5, size, id""",
        entity_id, md5s, user_id,
    )
