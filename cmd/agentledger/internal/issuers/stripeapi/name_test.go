package stripeapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCardholderName(t *testing.T) {
	for _, tc := range []struct{ name, email, want string }{
		{"Jane Doe", "", "Jane Doe"},
		{"  José   Müller-Lüdenscheidt ", "", "Jose Muller Ludenscheidt"},
		{"Jean-Luc O'Brien", "", "Jean Luc O Brien"},
		{"Straße Ørsted", "", "Strasse Orsted"},
		{"R2-D2 Agent #7", "", "R D Agent"},
		{"Maximiliana Bartholomew Featherstonehaugh", "", "Maximiliana Bartholomew"},
		{"Wolfeschlegelsteinhausenbergerdorff", "", "Wolfeschlegelsteinhausen"},
		{"李小龍", "bruce.lee@example.com", "bruce lee"},
		{"1234", "42@example.com", fallbackName},
		{"", "not-an-email", fallbackName},
	} {
		got := cardholderName(tc.name, tc.email)
		require.Equal(t, tc.want, got, "%q %q", tc.name, tc.email)
		require.LessOrEqual(t, len(got), maxNameLen)
		require.Regexp(t, `^[A-Za-z]+( [A-Za-z]+)*$`, got)
	}
}
