package stripeapi

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// Stripe's spending controls name merchant categories (bakeries, ...), not
// the merchant category codes agentledger's policies hold. categories.tsv
// is Stripe's published table, one MCC a category and one category an MCC:
// an MCC in it maps to exactly one category and back, so a list of MCCs
// round-trips unchanged. An MCC not in it (Stripe has no category of its
// own for, say, an airline's own code 3000-3299) cannot be mirrored.
//
//go:embed categories.tsv
var categoriesTSV string

var (
	mccCategory = map[string]string{} // "5462" -> "bakeries"
	categoryMCC = map[string]string{} // "bakeries" -> "5462"
)

var mccPattern = regexp.MustCompile(`^[0-9]{4}$`)

func init() {
	mccCategory, categoryMCC = parseCategories(categoriesTSV)
}

// parseCategories reads the table, panicking on a malformed one: it is
// embedded, and its test reads it at every run.
func parseCategories(tsv string) (byMCC, byCategory map[string]string) {
	byMCC, byCategory = map[string]string{}, map[string]string{}
	for n, line := range strings.Split(tsv, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mcc, category, ok := strings.Cut(line, "\t")
		switch {
		case !ok || !mccPattern.MatchString(mcc) || category == "" || strings.ContainsAny(category, " \t"):
			panic(fmt.Sprintf("categories.tsv:%d: want <4-digit mcc><tab><category>, got %q", n+1, line))
		case byMCC[mcc] != "":
			panic(fmt.Sprintf("categories.tsv:%d: MCC %s is listed twice", n+1, mcc))
		case byCategory[category] != "":
			panic(fmt.Sprintf("categories.tsv:%d: category %s is listed twice", n+1, category))
		}
		byMCC[mcc], byCategory[category] = category, mcc
	}
	return byMCC, byCategory
}

// Category is Stripe's merchant category for mcc, and false when Stripe has
// none for it.
func Category(mcc string) (string, bool) {
	c, ok := mccCategory[strings.TrimSpace(mcc)]
	return c, ok
}

// MCC is the merchant category code of Stripe's category, and false when
// the table has none for it (Stripe's "miscellaneous", or a category newer
// than the table).
func MCC(category string) (string, bool) {
	m, ok := categoryMCC[category]
	return m, ok
}
