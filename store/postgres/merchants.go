package postgres

import "time"

// MerchantSeen implements engine.Tx.
func (t *tx) MerchantSeen(agentID, merchantKey, mcc string) (bool, bool, error) {
	var merchant, category bool
	err := t.queryRow(`SELECT
		EXISTS (SELECT 1 FROM merchants_seen WHERE agent_id = $1 AND kind = 'merchant' AND key = $2),
		EXISTS (SELECT 1 FROM merchants_seen WHERE agent_id = $1 AND kind = 'mcc' AND key = $3)`,
		agentID, merchantKey, mcc).Scan(&merchant, &category)
	if err != nil {
		return false, false, err
	}
	return merchant, category, nil
}

// MarkMerchantSeen implements engine.Tx. The first sighting is kept: a
// later one changes nothing.
func (t *tx) MarkMerchantSeen(agentID, merchantKey, mcc string, at time.Time) error {
	if merchantKey == "" && mcc == "" {
		return nil
	}
	// The casts type the parameters, which a UNION would otherwise leave
	// unresolved.
	return t.execLater(`INSERT INTO merchants_seen (agent_id, kind, key, first_seen_at)
		SELECT $1::text, 'merchant', $2::text, $4::bigint WHERE $2::text <> ''
		UNION ALL SELECT $1::text, 'mcc', $3::text, $4::bigint WHERE $3::text <> ''
		ON CONFLICT DO NOTHING`, agentID, merchantKey, mcc, micros(at))
}
