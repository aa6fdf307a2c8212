-- Removing a credential looks up the projects that use it.
CREATE INDEX projects_credential ON projects(git_credential_id) WHERE git_credential_id IS NOT NULL;
