package stripeapi

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi/stripemock"
	"github.com/agentledger/agentledger/engine"
)

func TestCategoryTableRoundTrips(t *testing.T) {
	require.Len(t, mccCategory, len(categoryMCC))
	require.Greater(t, len(mccCategory), 250)
	for mcc, category := range mccCategory {
		back, ok := MCC(category)
		require.True(t, ok)
		require.Equal(t, mcc, back)
	}
	c, ok := Category("5462")
	require.True(t, ok)
	require.Equal(t, "bakeries", c)
	_, ok = Category("3000") // an airline's own code: no category of its own
	require.False(t, ok)
	_, ok = MCC("miscellaneous")
	require.False(t, ok)

	require.Panics(t, func() { parseCategories("5462\tbakeries\n5462\tflorists\n") })
	require.Panics(t, func() { parseCategories("546\tbakeries\n") })
}

// categoryEnums reads, from the OpenAPI spec stripe-mock serves, the enum
// of each category list a card's create and update take.
func categoryEnums(t *testing.T) map[string][]string {
	t.Helper()
	path, err := stripemock.Spec()
	if err != nil {
		if os.Getenv(stripemock.E2EEnv) == "1" {
			t.Fatalf("stripe-mock's spec: %v", err)
		}
		t.Skipf("stripe-mock's spec is not available: %v", err)
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	type schema struct {
		Properties map[string]*schema `json:"properties"`
		Items      *schema            `json:"items"`
		Enum       []string           `json:"enum"`
	}
	var spec struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	enums := map[string][]string{}
	for _, path := range []string{"/v1/issuing/cards", "/v1/issuing/cards/{card}"} {
		body := spec.Paths[path]["post"].RequestBody.Content["application/x-www-form-urlencoded"].Schema
		controls := body.Properties["spending_controls"]
		require.NotNil(t, controls, path)
		for _, list := range []string{"allowed_categories", "blocked_categories"} {
			p := controls.Properties[list]
			require.NotNil(t, p, "%s %s", path, list)
			require.NotNil(t, p.Items, "%s %s", path, list)
			require.NotEmpty(t, p.Items.Enum, "%s %s", path, list)
			enums[path+" "+list] = p.Items.Enum
		}
	}
	return enums
}

// TestCategoriesAreStripes checks the table against Stripe's category
// enum: every name in it is one Stripe takes, and every category Stripe
// has (but its catch-all) is in it, so that a newer stripe-mock with new
// categories asks for the table to be brought up to date.
func TestCategoriesAreStripes(t *testing.T) {
	for where, enum := range categoryEnums(t) {
		for category := range categoryMCC {
			require.Contains(t, enum, category, "%s has no category %q", where, category)
		}
		var missing []string
		for _, category := range enum {
			if _, ok := categoryMCC[category]; !ok && category != "miscellaneous" {
				missing = append(missing, category)
			}
		}
		require.Empty(t, missing, "%s has categories categories.tsv lacks", where)
	}
}

// TestEveryCategoryAccepted blocks every MCC of the table on one card and
// has stripe-mock validate the request, on create and on update.
func TestEveryCategoryAccepted(t *testing.T) {
	var all []string
	for mcc := range mccCategory {
		all = append(all, mcc)
	}
	sort.Strings(all)
	c, rec := mock(t)
	holder := jane
	holder.ExternalID = "ich_1"
	for _, controls := range []engine.IssuerControls{{BlockedMCCs: all}, {AllowedMCCs: all}} {
		rec.Reset()
		_, err := c.CreateCard(ctx, spec(engine.CardActive, controls, holder))
		require.NoError(t, err)
		_, err = c.UpdateCard(ctx, "ic_1", spec(engine.CardActive, controls, holder))
		require.NoError(t, err)
		for _, r := range rec.Requests() {
			require.Equal(t, http.StatusOK, r.Status, "stripe-mock refused %s", r)
			if r.Method != http.MethodPost {
				continue
			}
			var sent []string
			for k, v := range r.Form {
				if strings.HasPrefix(k, "spending_controls[") && strings.Contains(k, "_categories][") {
					sent = append(sent, v...)
				}
			}
			require.Len(t, sent, len(all))
			require.True(t, slices.Contains(sent, "wrecking_and_salvage_yards"))
		}
	}
}
