-- Envelope encryption at rest (docs/encryption.md). Data keys encrypt secrets, blobs and the
-- content of encrypted record types; each is kept wrapped (AES-256-GCM) by the master key, which
-- the database never sees. `master_key_id` names the master key that wraps it. During a rotation
-- (`refinery keys rotate-master`) each data key is also wrapped by the new master key
-- (`next_*`) before the old wrap is dropped, so processes on either key read everything meanwhile.
create table data_keys (
  id text primary key,
  master_key_id text not null,
  wrapped bytea not null,
  next_master_key_id text,
  next_wrapped bytea,
  created_at timestamptz not null
);

-- Record types whose content is stored encrypted. Records stored before a type was marked are
-- encrypted by a background pass; `sealed_at`: when it found none left.
create table encrypted_record_types (
  type text primary key,
  sealed_at timestamptz,
  updated_at timestamptz not null
);

-- The data key a record's content is sealed with; null: the content is stored as it came. The
-- sealed content (a JSON string) names its key too.
alter table records add column content_key text;
