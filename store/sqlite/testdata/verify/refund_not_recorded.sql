-- expect: refunded but
UPDATE authorizations SET refunded_amount = 0 WHERE refunded_amount > 0;
