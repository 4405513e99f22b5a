package stripeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// BillingAddressEnv is the environment variable that holds the billing
// address of the cardholders this client creates, as JSON (see
// ParseBillingAddress).
const BillingAddressEnv = "AGENTLEDGER_STRIPE_BILLING_ADDRESS"

// BillingAddress is the billing address Stripe requires of a cardholder.
// agentledger gives every cardholder it creates the same one: the
// operator's.
type BillingAddress struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code"`
	// Country is an ISO 3166-1 alpha-2 code, e.g. US.
	Country string `json:"country"`
}

// IsZero reports whether no field is set: no address was configured.
func (a BillingAddress) IsZero() bool {
	return a == BillingAddress{}
}

// Validate names the first required field that is missing, or a country
// that is not a two-letter code.
func (a BillingAddress) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"line1", a.Line1}, {"city", a.City}, {"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("%s: %q is required", BillingAddressEnv, f.name)
		}
	}
	if c := strings.TrimSpace(a.Country); len(c) != 2 || !isASCIILetters(c) {
		return fmt.Errorf("%s: \"country\" must be a two-letter ISO 3166-1 code such as US, got %q", BillingAddressEnv, a.Country)
	}
	return nil
}

func isASCIILetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// normalized trims every field and upper-cases the country.
func (a BillingAddress) normalized() BillingAddress {
	return BillingAddress{
		Line1: strings.TrimSpace(a.Line1), Line2: strings.TrimSpace(a.Line2),
		City: strings.TrimSpace(a.City), State: strings.TrimSpace(a.State),
		PostalCode: strings.TrimSpace(a.PostalCode), Country: strings.ToUpper(strings.TrimSpace(a.Country)),
	}
}

var addressFields = []string{"line1", "line2", "city", "state", "postal_code", "country"}

// ParseBillingAddress parses AGENTLEDGER_STRIPE_BILLING_ADDRESS's value, a
// JSON object such as
//
//	{"line1":"1 Main St","city":"San Francisco","state":"CA","postal_code":"94107","country":"US"}
//
// with line1, city, postal_code and country required and line2 and state
// optional. A blank value is no address (the zero BillingAddress, no
// error): the client then refuses to create a cardholder. Every error
// names the variable and the field at fault.
func ParseBillingAddress(s string) (BillingAddress, error) {
	if strings.TrimSpace(s) == "" {
		return BillingAddress{}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return BillingAddress{}, fmt.Errorf("%s: want a JSON object with %s", BillingAddressEnv, strings.Join(addressFields, ", "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BillingAddress{}, fmt.Errorf("%s: want one JSON object, found more after it", BillingAddressEnv)
	}
	values := map[string]string{}
	for key, v := range raw {
		known := false
		for _, f := range addressFields {
			known = known || f == key
		}
		if !known {
			return BillingAddress{}, fmt.Errorf("%s: unknown field %q (fields: %s)", BillingAddressEnv, key, strings.Join(addressFields, ", "))
		}
		var str string
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		if err := json.Unmarshal(v, &str); err != nil {
			return BillingAddress{}, fmt.Errorf("%s: %q must be a string", BillingAddressEnv, key)
		}
		values[key] = str
	}
	a := BillingAddress{
		Line1: values["line1"], Line2: values["line2"], City: values["city"], State: values["state"],
		PostalCode: values["postal_code"], Country: values["country"],
	}
	if err := a.Validate(); err != nil {
		return BillingAddress{}, err
	}
	return a.normalized(), nil
}
