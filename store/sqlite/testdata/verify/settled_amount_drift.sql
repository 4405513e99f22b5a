-- expect: but its hold posted
UPDATE authorizations SET settled_amount = settled_amount - 1, refunded_amount = 0 WHERE status = 'settled';
