-- expect: has its hold
DELETE FROM transfers WHERE kind = 'void_pending';
