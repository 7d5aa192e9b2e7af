-- 0030: a content address is trusted only once the artifact service has hashed what the bucket holds.
-- `verified_at`: when the stored bytes were read back and their SHA-256 matched `sha256` (every upload
-- completed from now on). Objects stored before stay NULL: they are reused by their own uploader as
-- before, and by anyone else only after the service has hashed them (docs/security.md, "Integrity").
ALTER TABLE storage_objects ADD COLUMN verified_at timestamptz;
