-- dream-agent PostgreSQL store, migration 3: tenants and owners.
--
-- Sessions gain the tenant and the principal that own them, so that hosts can authorise reads and
-- commands and list "my sessions" from storage across nodes. Both are set once, by createSession, and
-- never change: a commit never touches an indexed column, so the session row's per-cycle update stays
-- HOT (no new index entries). Adding nullable columns without a default only changes the catalog (no
-- table rewrite, a brief ACCESS EXCLUSIVE lock): safe to run while the previous release is serving.
-- Existing sessions keep NULL (no tenant, no owner).
ALTER TABLE sessions ADD COLUMN tenant_id text COLLATE "C", ADD COLUMN owner_id text COLLATE "C";

-- listSessions({ tenantId, ownerId?, after }) pages a tenant's sessions by id; ({ ownerId }) pages one
-- principal's. Partial: sessions without a tenant (or owner) cost these indexes nothing.
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, owner_id, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX sessions_owner_idx ON sessions (owner_id, id) WHERE owner_id IS NOT NULL;
