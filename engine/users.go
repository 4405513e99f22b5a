package engine

import (
	"context"
	"time"
)

// CreateUserInput creates a funding user.
type CreateUserInput struct {
	Name           string `json:"name"`
	Email          string `json:"email,omitempty"`
	IdempotencyKey string `json:"-"`
}

// CreateUser registers a user with KYC pending. Operators only.
func (e *Engine) CreateUser(ctx context.Context, actor Actor, in CreateUserInput) (*User, error) {
	if err := actor.requireRole("create user", RoleAdmin); err != nil {
		return nil, err
	}
	var err error
	if in.Name, err = checkName("name", in.Name); err != nil {
		return nil, err
	}
	if in.Email, err = checkFreeText("email", in.Email, 254, false); err != nil {
		return nil, err
	}
	var out *User
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "user.create", in, now, func() (*User, error) {
			u := &User{ID: e.newID(PrefixUser, now), Name: in.Name, Email: in.Email, KYCStatus: KYCPending, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertUser(u); err != nil {
				if ErrorCode(err) == CodeConflict {
					return nil, &Error{Code: CodeConflict, Field: "name", Message: "name: a user named " + in.Name + " already exists"}
				}
				return nil, err
			}
			return u, nil
		})
		return err
	})
	return out, err
}

// GetUser returns a user by id or name. Operators and viewers only.
func (e *Engine) GetUser(ctx context.Context, actor Actor, ref string) (*User, error) {
	if err := actor.requireRole("show user", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	var out *User
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = findUser(tx, "user", ref)
		return err
	})
	return out, err
}

// ListUsers returns a page of users, oldest first. Operators and viewers
// only.
func (e *Engine) ListUsers(ctx context.Context, actor Actor, page Page) (List[User], error) {
	if err := actor.requireRole("list users", RoleAdmin, RoleViewer); err != nil {
		return List[User]{}, err
	}
	if err := page.check(PrefixUser); err != nil {
		return List[User]{}, err
	}
	var out List[User]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(page, func(u *User) string { return u.ID }, func(after string, limit int) ([]*User, error) {
			return tx.ListUsers(UserFilter{After: after, Limit: limit})
		}, keepAll)
		return err
	})
	return out, err
}

// SetKYCInput moves a user's KYC status.
type SetKYCInput struct {
	User           string `json:"user"`
	Status         string `json:"status"` // KYCApproved or KYCRejected
	IdempotencyKey string `json:"-"`
}

// SetKYC records the outcome of a user's KYC review: approved, or rejected.
// An approved user may later be rejected (a revoked verification): their
// agents' spending then stops with KYC_REQUIRED. Setting the status a user
// already has changes nothing. Operators only.
func (e *Engine) SetKYC(ctx context.Context, actor Actor, in SetKYCInput) (*User, error) {
	if err := actor.requireRole("set KYC", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkOneOf("status", in.Status, KYCApproved, KYCRejected); err != nil {
		return nil, err
	}
	var out *User
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "user.kyc", in, now, func() (*User, error) {
			u, err := findUser(tx, "user", in.User)
			if err != nil || u.KYCStatus == in.Status {
				return u, err
			}
			u.KYCStatus, u.UpdatedAt = in.Status, now
			if err := tx.UpdateUser(u); err != nil {
				return nil, err
			}
			if u.KYCStatus == KYCApproved {
				return u, e.emit(tx, now, EventUserApproved, u)
			}
			return u, nil
		})
		return err
	})
	return out, err
}

// FundInput deposits money into a user's funding account.
type FundInput struct {
	User           string `json:"user"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	IdempotencyKey string `json:"-"`
}

// FundUser deposits money for a user (a posted transfer from the deposits
// system account). A user whose KYC is pending may be funded; the money
// becomes spendable once the user is approved. Operators only.
func (e *Engine) FundUser(ctx context.Context, actor Actor, in FundInput) (*Balance, error) {
	if err := actor.requireRole("fund user", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	var err error
	if in.Currency, err = normalizeCurrency("currency", in.Currency, DefaultCurrency); err != nil {
		return nil, err
	}
	var out *Balance
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "user.fund", in, now, func() (*Balance, error) {
			u, err := findUser(tx, "user", in.User)
			if err != nil {
				return nil, err
			}
			acct := UserAccountID(u.ID, in.Currency)
			if err := tx.InsertTransfer(&Transfer{
				ID: e.newID(PrefixTransfer, now), Kind: TransferPosted, DebitAccountID: depositsAccountID(in.Currency),
				CreditAccountID: acct, Amount: in.Amount, Currency: in.Currency, Reference: u.ID, CreatedAt: now,
			}); err != nil {
				return nil, err
			}
			b, err := accountBalance(tx, acct, in.Currency, u.ID, "")
			if err != nil {
				return nil, err
			}
			return b, e.emit(tx, now, EventAccountFunded, Funded{Balance: *b, Amount: in.Amount})
		})
		return err
	})
	return out, err
}

// UserBalance returns a user's balance in a currency (default USD).
// Operators and viewers only.
func (e *Engine) UserBalance(ctx context.Context, actor Actor, userRef, currency string) (*Balance, error) {
	if err := actor.requireRole("show balance", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	currency, err := normalizeCurrency("currency", currency, DefaultCurrency)
	if err != nil {
		return nil, err
	}
	var out *Balance
	err = e.view(ctx, func(tx Tx, _ time.Time) error {
		u, err := findUser(tx, "user", userRef)
		if err != nil {
			return err
		}
		out, err = accountBalance(tx, UserAccountID(u.ID, currency), currency, u.ID, "")
		return err
	})
	return out, err
}

// accountBalance reads an account as a Balance; a never-used account is zero.
func accountBalance(tx Tx, accountID, currency, userID, agentID string) (*Balance, error) {
	b := &Balance{UserID: userID, AgentID: agentID, Currency: currency}
	a, err := tx.FindAccount(accountID)
	if IsNotFound(err) {
		return b, nil
	} else if err != nil {
		return nil, err
	}
	b.Posted, b.Pending, b.Available = a.Posted(), a.DebitsPending, a.Available()
	return b, nil
}

// availableIn returns what may be spent from an account; zero for a
// never-used one.
func availableIn(tx Tx, accountID string) (int64, error) {
	a, err := tx.FindAccount(accountID)
	if IsNotFound(err) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return a.Available(), nil
}

func findUser(tx Tx, field, ref string) (*User, error) {
	if ref == "" {
		return nil, invalid(field, "is required")
	}
	u, err := tx.FindUser(ref)
	if IsNotFound(err) {
		return nil, notFound(field, "user", ref)
	}
	return u, err
}
