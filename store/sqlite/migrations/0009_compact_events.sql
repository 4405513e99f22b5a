-- Version 9 changes no table. From it on, an event about an authorization
-- written in the authorization's own transaction may be stored without the
-- authorization's checks, behind a header (webhooks.go, compactEvent), and
-- every read puts them back. An agentledger before version 9 would send
-- such data to webhook endpoints as it is, so it must refuse this file:
-- this step only moves the schema version.
SELECT 1;
