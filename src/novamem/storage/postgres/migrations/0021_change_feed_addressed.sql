-- Change-feed rows addressed to one user. The feed shows a project's rows to the project's members, so a
-- member who loses the project (it is deleted, or they are removed from it) could no longer read the rows
-- that tell them its memories are gone, and a client mirroring the feed would keep them for ever. Losing a
-- project now logs, for each of its memories, a `deleted` row addressed to each user who lost it: `user_id`
-- is that user, `project_id` the project, and `addressed` keeps the row from the project's remaining members
-- (their memories did not go anywhere). The default is constant, so adding the column rewrites nothing.
ALTER TABLE memory_changes ADD COLUMN addressed boolean NOT NULL DEFAULT false;
CREATE INDEX memory_changes_addressed ON memory_changes (tenant_id, user_id, seq) WHERE addressed;
