CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	slug       TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL,
	created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL,
	hash         BLOB NOT NULL UNIQUE,
	scopes       TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	revoked_at   TEXT,
	last_used_at TEXT
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE git_credentials (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	host         TEXT NOT NULL DEFAULT '',
	username     TEXT NOT NULL,
	token        TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	last_used_at TEXT,
	UNIQUE (org_id, name)
);

CREATE TABLE projects (
	id                TEXT PRIMARY KEY,
	org_id            TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
	name              TEXT NOT NULL,
	path              TEXT NOT NULL UNIQUE,
	git_url           TEXT NOT NULL DEFAULT '',
	url_key           TEXT,
	git_credential_id TEXT REFERENCES git_credentials(id),
	branch            TEXT NOT NULL DEFAULT '',
	depth             INTEGER NOT NULL DEFAULT 0,
	head              TEXT NOT NULL DEFAULT '',
	source            TEXT NOT NULL CHECK (source IN ('clone', 'path')),
	status            TEXT NOT NULL CHECK (status IN ('ready', 'cloning', 'failed')),
	error             TEXT NOT NULL DEFAULT '',
	clone_tmp         TEXT NOT NULL DEFAULT '',
	created_at        TEXT NOT NULL,
	last_synced_at    TEXT,
	last_sync_error   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX projects_org_url ON projects(org_id, url_key) WHERE url_key IS NOT NULL;
CREATE INDEX projects_org_id ON projects(org_id, id);
CREATE INDEX projects_status ON projects(status) WHERE status = 'cloning';

CREATE TABLE audit_log (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	at            TEXT NOT NULL,
	org_id        TEXT NOT NULL DEFAULT '',
	key_id        TEXT NOT NULL,
	action        TEXT NOT NULL,
	resource_id   TEXT NOT NULL DEFAULT '',
	git_url       TEXT NOT NULL DEFAULT '',
	credential_id TEXT NOT NULL DEFAULT '',
	outcome       TEXT NOT NULL,
	detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
