package events

// iso4217 is ISO 4217 List One (the active codes, funds included) as
// published on 2026-01-01, each code with its minor units: the decimals an
// amount has. -1 stands for the list's "N.A.": gold and the other metals, the
// SDR and the other units of account, the testing code XTS and XXX ("no
// currency"), which have no minor unit and so cannot hold an amount of money.
// Codes withdrawn since 2007 follow (List Three), since history
// recorded in them must still be replayed.
//
// It is kam's one table of currencies: the policy and the importer both read
// it through CurrencyDigits.
var iso4217 = map[string]int{
	"AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
	"AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
	"BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
	"CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2,
	"COP": 2, "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2,
	"DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2,
	"GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
	"HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3,
	"IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2,
	"KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2,
	"LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
	"MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
	"MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2,
	"NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2,
	"PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2,
	"SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2,
	"SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2,
	"TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
	"USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2,
	"VND": 0, "VUV": 0, "WST": 2, "XAD": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0,
	"XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
	// Withdrawn (List Three), for history: the euro's adoptions, and the
	// currencies redenominated or replaced since 2007.
	"ANG": 2, "BGN": 2, "BYR": 0, "CUC": 2, "CYP": 2, "EEK": 2, "GHC": 2, "HRK": 2,
	"LTL": 2, "LVL": 2, "MRO": 2, "MTL": 2, "SDD": 2, "SIT": 2, "SKK": 2, "SLL": 2,
	"STD": 2, "TMM": 2, "USS": 2, "VEB": 2, "VEF": 2, "ZMK": 2, "ZWD": 2, "ZWL": 2,
	"ZWR": 2,
	// No minor unit (N.A.).
	"XAG": -1, "XAU": -1, "XBA": -1, "XBB": -1, "XBC": -1, "XBD": -1, "XDR": -1,
	"XPD": -1, "XPT": -1, "XSU": -1, "XTS": -1, "XUA": -1, "XXX": -1,
}

// CurrencyDigits returns the minor units (decimals) of an ISO 4217
// currency code, active or withdrawn since 2007, upper case as the standard
// writes it. ok is false for a
// code not in the list and for one the list gives no minor unit (XAU, XDR,
// XTS, XXX, ...): no amount can be kept in those.
func CurrencyDigits(code string) (digits int, ok bool) {
	d, ok := iso4217[code]
	if !ok || d < 0 {
		return 0, false
	}
	return d, true
}
