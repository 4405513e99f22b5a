-- expect: spend counter
UPDATE counters SET amount = amount + 1 WHERE period = 'lifetime';
