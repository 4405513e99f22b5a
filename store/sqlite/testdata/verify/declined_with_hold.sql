-- expect: declined authorization
UPDATE authorizations SET status = 'declined' WHERE status = 'settled';
