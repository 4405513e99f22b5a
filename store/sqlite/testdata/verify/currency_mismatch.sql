-- expect: does not balance: it touches accounts
UPDATE transfers SET currency = 'EUR' WHERE id = (SELECT id FROM transfers WHERE kind = 'posted' ORDER BY id LIMIT 1);
