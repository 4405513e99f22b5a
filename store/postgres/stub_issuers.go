package postgres

// Stubs of the issuers methods, replaced as they are written.

import (
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenIssuers = errors.New("postgres: not written yet")

func (t *tx) InsertOAuthClient(c *engine.OAuthClient) error { return errNotWrittenIssuers }
func (t *tx) UpdateOAuthClient(c *engine.OAuthClient) error { return errNotWrittenIssuers }
func (t *tx) FindOAuthClient(id string) (*engine.OAuthClient, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) ListOAuthClients(f engine.OAuthClientFilter) ([]*engine.OAuthClient, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) InsertOAuthGrant(g *engine.OAuthGrant) error          { return errNotWrittenIssuers }
func (t *tx) UpdateOAuthGrant(g *engine.OAuthGrant) error          { return errNotWrittenIssuers }
func (t *tx) FindOAuthGrant(id string) (*engine.OAuthGrant, error) { return nil, errNotWrittenIssuers }
func (t *tx) ListOAuthGrants(f engine.OAuthGrantFilter) ([]*engine.OAuthGrant, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) InsertOAuthToken(tok *engine.OAuthToken) error { return errNotWrittenIssuers }
func (t *tx) FindOAuthToken(hash []byte) (*engine.OAuthToken, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) MarkOAuthTokenUsed(hash []byte, at time.Time) error { return errNotWrittenIssuers }
func (t *tx) PutCardLink(l *engine.CardLink) error               { return errNotWrittenIssuers }
func (t *tx) FindCardLink(issuer, externalID string) (*engine.CardLink, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) ListCardLinks(cardID string) ([]*engine.CardLink, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) FindCardholder(issuer, userID string) (*engine.Cardholder, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) PutCardholder(c *engine.Cardholder) error   { return errNotWrittenIssuers }
func (t *tx) QueueIssuerSync(s *engine.IssuerSync) error { return errNotWrittenIssuers }
func (t *tx) FindIssuerSync(cardID string) (*engine.IssuerSync, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) ListIssuerSync(f engine.IssuerSyncFilter) ([]*engine.IssuerSync, error) {
	return nil, errNotWrittenIssuers
}
func (t *tx) RetryIssuerSync(s *engine.IssuerSync) error          { return errNotWrittenIssuers }
func (t *tx) DoneIssuerSync(cardID, version string) (bool, error) { return false, errNotWrittenIssuers }
func (t *tx) PruneOAuthTokens(before time.Time, limit int) (int64, error) {
	return 0, errNotWrittenIssuers
}
func (t *tx) PruneOAuthClients(before time.Time, limit int) (int64, error) {
	return 0, errNotWrittenIssuers
}
func (t *tx) CountIssuerSync() (int64, error) { return 0, errNotWrittenIssuers }
