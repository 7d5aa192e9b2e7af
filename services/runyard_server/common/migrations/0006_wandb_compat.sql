-- 0006: what the W&B client protocol (wandb_compat/, docs/wandb-compat.md) needs from storage.

-- Per-channel replay guards beside runs.last_seq (ingest: pb.Record.channel): {"channel": highest seq}.
-- The W&B file stream numbers its history and system-metrics lines by separate offsets.
ALTER TABLE runs ADD COLUMN channel_seqs jsonb NOT NULL DEFAULT '{}';

-- Staged uploads name artifact files by MD5 only (artifact/staging.py): bytes already stored are found
-- by (entity, md5) instead of being asked for again.
CREATE INDEX storage_objects_entity_md5 ON storage_objects (entity_id, md5) WHERE state = 'ready';
