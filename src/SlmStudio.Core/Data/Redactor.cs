using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using PhoneNumbers;

namespace SlmStudio.Core.Data;

[JsonConverter(typeof(JsonStringEnumConverter<PersonalDataKind>))]
public enum PersonalDataKind { Email, Phone, Iban, PaymentCard, NationalId, Name }

/// <summary>One piece of personal data found: what kind, a masked form safe to show, and where it was.</summary>
public sealed record RedactionFinding(PersonalDataKind Kind, string Masked, string File, int? Line, int Offset);

public sealed record RedactionResult(string Text, IReadOnlyList<RedactionFinding> Findings);

/// <summary>A detected span in a text (for the review and for measuring precision and recall).</summary>
public sealed record PersonalDataMatch(PersonalDataKind Kind, int Start, int Length, string Value);

public sealed record RedactorOptions
{
    /// <summary>
    /// Regions whose national phone formats (without +country code) are recognised, as ISO 3166 codes. Numbers
    /// written with +country code are recognised for every country.
    /// </summary>
    public IReadOnlyList<string> PhoneRegions { get; init; } = ["US", "GB", "DE", "FR", "NL", "BE", "CH", "AT", "IE", "ES", "IT", "CA", "AU"];

    /// <summary>How long one pattern may search one chunk of text; when it is used up the redaction stops with an <see cref="EngineException"/>.</summary>
    public TimeSpan MatchTimeout { get; init; } = Redactor.DefaultMatchTimeout;

    /// <summary>Find people's names too (see <see cref="NameDetector"/>).</summary>
    public bool DetectNames { get; init; } = true;
}

/// <summary>
/// Finds e-mail addresses, phone numbers, IBANs, payment card numbers, national ID numbers and people's names
/// (<see cref="NameDetector"/>) and replaces them by
/// typed placeholders such as [EMAIL]. Each candidate found by a pattern must also pass the check that kind has:
/// IBANs their ISO 13616 length and mod-97 checksum, cards the Luhn checksum and a known issuer prefix, phone numbers
/// libphonenumber's validation (plus a nearby word like "phone" or a typical phone layout for numbers without +country
/// code), so that order numbers, dates and amounts that merely look similar are left alone.
/// </summary>
public sealed class Redactor(RedactorOptions? options = null)
{
    private readonly RedactorOptions _options = options ?? new RedactorOptions();
    private readonly Patterns _p = options is null || options.MatchTimeout == DefaultMatchTimeout ? SharedPatterns : new Patterns(options.MatchTimeout);

    /// <summary>
    /// Text longer than this is searched in windows of this size (plus <see cref="ChunkOverlap"/> on each side), so the
    /// work and the time of one pattern search stay bounded however long a line is (a 40 MB line without a line break
    /// ran every pattern over the whole string and hit the time limit).
    /// </summary>
    public const int ChunkCharacters = 64 * 1024;

    /// <summary>
    /// Context each window sees beyond the part it is responsible for: longer than any value a pattern can match (an
    /// e-mail address is at most 320 characters) plus the 30 characters before a phone number that decide whether it is one.
    /// </summary>
    public const int ChunkOverlap = 1024;
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    public static string Placeholder(PersonalDataKind kind) => kind switch
    {
        PersonalDataKind.Email => "[EMAIL]",
        PersonalDataKind.Phone => "[PHONE]",
        PersonalDataKind.Iban => "[IBAN]",
        PersonalDataKind.PaymentCard => "[CARD]",
        PersonalDataKind.Name => "[NAME]",
        _ => "[NATIONAL_ID]",
    };

    private const RegexOptions Opts = RegexOptions.Compiled | RegexOptions.CultureInvariant;

    /// <summary>
    /// How long one pattern may search one chunk (see <see cref="ChunkCharacters"/>) before it gives up. The limit only
    /// guards against a pattern that runs away on a pathological window, so it is far above what ordinary work needs:
    /// measured at a load average of 44 on 2 cores, a pattern takes microseconds per paragraph and at most about 60 ms
    /// on a full 64 KiB window of adversarial text, but the first search with a compiled pattern also pays for its
    /// just-in-time compilation inside the limit (1.6 s for the national-ID pattern), and a starved thread can be
    /// descheduled for seconds. The old 2 s limit stopped `slm prepare` on ordinary notes on a loaded CI machine.
    /// </summary>
    public static readonly TimeSpan DefaultMatchTimeout = TimeSpan.FromSeconds(DefaultMatchTimeoutSeconds);

    /// <summary><see cref="DefaultMatchTimeout"/> in seconds, for patterns outside this class (<see cref="NameDetector"/>).</summary>
    internal const int DefaultMatchTimeoutSeconds = 30;

    // File names such as icon@2x.png look like addresses; no real top-level domain is one of these.
    private static readonly HashSet<string> FileExtensionTlds = new(StringComparer.OrdinalIgnoreCase)
    { "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ts", "json", "xml", "txt", "pdf", "docx", "html", "htm", "md", "ico", "bmp" };

    /// <summary>The compiled patterns, shared by every redactor with the default time limit.</summary>
    private sealed class Patterns(TimeSpan budget)
    {

        public readonly Regex EmailPattern = new(
            @"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?<tld>[A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])",
            Opts, budget);

        public readonly Regex IbanPattern = new(
            @"(?<![A-Za-z0-9])(?<cc>[A-Z]{2})(?<ck>\d{2})(?:[ -]?[A-Za-z0-9]){10,30}", Opts, budget);

        public readonly Regex CardPattern = new(@"(?<![\d.,/-])\d(?:[ -]?\d){12,18}(?![\d]|[.,/-]\d)", Opts, budget);

        public readonly Regex SsnPattern = new(@"(?<![\d-])(?!000|666|9\d\d)\d{3}(?<sep>[- ])(?!00)\d{2}\k<sep>(?!0000)\d{4}(?![\d-])", Opts, budget);

        public readonly Regex NinoPattern = new(
            @"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", Opts, budget);

        public readonly Regex LabelledIdPattern = new(
            @"(?i)\b(?:ssn|social\s+security\s+(?:number|no\.?|#)|national\s+(?:id|identity|insurance)(?:\s+(?:number|no\.?|card))?|passport(?:\s+(?:number|no\.?))?|personal\s+id(?:entity)?(?:\s+(?:number|code))?|id\s+card(?:\s+(?:number|no\.?))?|identity\s+card(?:\s+number)?|bsn|burgerservicenummer|personalausweis(?:nummer)?|ausweisnummer|steuer-?id|tax\s+id(?:entification)?(?:\s+number)?|nir|num[ée]ro\s+de\s+s[ée]curit[ée]\s+sociale|dni|nie|codice\s+fiscale|pesel|personnummer)\b[ \t]*(?:is|was|:|#|no\.?|number)?[ \t]*[:#]?[ \t]*(?-i:(?<v>(?:[A-Z]{1,3}[ ](?=\d))?[A-Z]{0,3}\d[\dA-Z.\/-]*(?:[ ](?:[A-Z]{1,2}\b|[A-Z]{0,3}\d[\dA-Z.\/-]*)){0,6}))",
            Opts, budget);

        public readonly Regex PhonePattern = new(
            @"(?<![\w@+./-])(?:\+|\b00)?[ \t]?(?:\(\d{1,5}\)[ \t]?)?\d(?:[\d \t().\/-]{4,22})\d(?![\w@]|[.\/-]\d)", Opts, budget);

        public readonly Regex DateLike = new(@"^\s*(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2} \d{1,2} (?:19|20)\d{2}|(?:19|20)\d{2} \d{1,2} \d{1,2}|\d{4}\s?-\s?\d{4})\s*$", Opts, budget);
        public readonly Regex UsLayout = new(@"^(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}$", Opts, budget);

        public readonly Regex PhoneWords = new(
            @"(?i)(?:\b(?:tel|tele|telephone|phone|ph|call|calls|ring|mobile|mob|cell|fax|contact|reach|whatsapp|sms|text|dial|hotline|helpline|telefon|telefoon|téléphone|tél|handy|mobil|portable|numero|nummer)\b|☎|📞)",
            Opts, budget);

        public readonly Regex NotPhoneWords = new(
            @"(?i)\b(?:order|invoice|inv|ref|reference|tracking|ticket|case|sku|serial|isbn|issn|po|account|acct|customer|client|contract|policy|claim|shipment|parcel|batch|lot|item|article|art|part|model|version|build|id|no|nr|#)\b\W{0,3}$",
            Opts, budget);
    }

    private static readonly Patterns SharedPatterns = new(DefaultMatchTimeout);

    /// <summary>Replaces every finding by its placeholder.</summary>
    /// <exception cref="EngineException">The search for personal data failed on this text; the message names <paramref name="file"/>.</exception>
    public RedactionResult Redact(string text, string file = "", int? line = null)
    {
        var matches = Detect(text, file, line);
        if (matches.Count == 0) return new RedactionResult(text, []);
        var sb = new StringBuilder(text.Length);
        var findings = new List<RedactionFinding>(matches.Count);
        int at = 0;
        foreach (var m in matches)
        {
            sb.Append(text, at, m.Start - at).Append(Placeholder(m.Kind));
            at = m.Start + m.Length;
            findings.Add(new RedactionFinding(m.Kind, Mask(m.Kind, m.Value), file, line, m.Start));
        }
        sb.Append(text, at, text.Length - at);
        return new RedactionResult(sb.ToString(), findings);
    }

    /// <summary>All findings in <paramref name="text"/>, in order, never overlapping.</summary>
    /// <exception cref="EngineException">The search failed (for example a pattern ran out of time).</exception>
    public IReadOnlyList<PersonalDataMatch> Detect(string text) => Detect(text, "", null);

    private List<PersonalDataMatch> Detect(string text, string file, int? line)
    {
        try
        {
            return text.Length <= ChunkCharacters + 2 * ChunkOverlap ? DetectInWindow(text) : DetectInChunks(text);
        }
        catch (RegexMatchTimeoutException e)
        {
            var where = file.Length == 0 ? "this text" : line is { } l ? $"'{file}' (at line, row or page {l})" : $"'{file}'";
            throw new EngineException(
                $"Looking for personal data in {where} took too long and was stopped, so the text could not be checked. " +
                "Split the file into smaller files, or make sure it is ordinary text (not a data dump or an encoded file), and upload it again.", e);
        }
    }

    /// <summary>
    /// Searches window after window. A window owns the matches that start in its middle part; it also sees
    /// <see cref="ChunkOverlap"/> characters before and after, so a value that crosses a border is found whole by the
    /// window where it starts, and a tail of it is never taken for a value of its own by the next window.
    /// </summary>
    private List<PersonalDataMatch> DetectInChunks(string text)
    {
        var all = new List<PersonalDataMatch>();
        int ownedStart = 0;
        while (ownedStart < text.Length)
        {
            var ownedEnd = SafeBoundary(text, Math.Min(text.Length, ownedStart + ChunkCharacters));
            var windowStart = Math.Max(0, ownedStart - ChunkOverlap);
            var windowEnd = Math.Min(text.Length, ownedEnd + ChunkOverlap);
            foreach (var m in DetectInWindow(text.Substring(windowStart, windowEnd - windowStart)))
            {
                var start = m.Start + windowStart;
                if (start < ownedStart || start >= ownedEnd) continue;
                // A value found by the previous window may reach into this one; the one that starts first wins.
                if (all.Count > 0 && all[^1].Start + all[^1].Length > start) continue;
                all.Add(m with { Start = start });
            }
            ownedStart = ownedEnd;
        }
        return all;
    }

    /// <summary>Moves a window border back to the nearest space or line break (within 256 characters), where no value is cut.</summary>
    private static int SafeBoundary(string text, int end)
    {
        if (end >= text.Length) return text.Length;
        for (int i = end; i > end - 256; i--)
            if (char.IsWhiteSpace(text[i - 1])) return i;
        return end;
    }

    private List<PersonalDataMatch> DetectInWindow(string text)
    {
        var found = new List<PersonalDataMatch>();
        var hasDigit = text.AsSpan().IndexOfAnyInRange('0', '9') >= 0;
        if (text.Contains('@')) Collect(_p.EmailPattern, PersonalDataKind.Email, text, found, ValidEmail);
        if (_options.DetectNames)
            foreach (var (start, length) in NameDetector.Find(text))
                found.Add(new PersonalDataMatch(PersonalDataKind.Name, start, length, text.Substring(start, length)));
        if (!hasDigit) return Resolve(found);
        Collect(_p.IbanPattern, PersonalDataKind.Iban, text, found, null, IbanSpan);
        Collect(_p.CardPattern, PersonalDataKind.PaymentCard, text, found, ValidCard);
        Collect(_p.SsnPattern, PersonalDataKind.NationalId, text, found, null);
        Collect(_p.NinoPattern, PersonalDataKind.NationalId, text, found, null);
        foreach (Match m in _p.LabelledIdPattern.Matches(text))
        {
            var v = m.Groups["v"];
            var value = v.Value.TrimEnd('.', '/', '-');
            if (value.Count(char.IsAsciiDigit) >= 5) found.Add(new PersonalDataMatch(PersonalDataKind.NationalId, v.Index, value.Length, value));
        }
        foreach (Match m in _p.PhonePattern.Matches(text))
        {
            var (start, length) = TrimSpan(text, m.Index, m.Length);
            if (IsPhone(text, start, length)) found.Add(new PersonalDataMatch(PersonalDataKind.Phone, start, length, text.Substring(start, length)));
        }
        return Resolve(found);
    }

    private static void Collect(Regex pattern, PersonalDataKind kind, string text, List<PersonalDataMatch> found,
        Func<Match, bool>? valid, Func<Match, (int Start, int Length)?>? span = null)
    {
        foreach (Match m in pattern.Matches(text))
        {
            if (valid is not null && !valid(m)) continue;
            var s = span is null ? (m.Index, m.Length) : span(m);
            if (s is { } x) found.Add(new PersonalDataMatch(kind, x.Item1, x.Item2, text.Substring(x.Item1, x.Item2)));
        }
    }

    /// <summary>Earlier-starting, then more specific (emails, IBANs, cards before phones) matches win an overlap.</summary>
    private static List<PersonalDataMatch> Resolve(List<PersonalDataMatch> found)
    {
        if (found.Count <= 1) return found;
        var ordered = found.OrderBy(m => Priority(m.Kind)).ThenByDescending(m => m.Length).ToList();
        var taken = new List<PersonalDataMatch>();
        foreach (var m in ordered)
            if (!taken.Any(t => m.Start < t.Start + t.Length && t.Start < m.Start + m.Length)) taken.Add(m);
        taken.Sort((a, b) => a.Start.CompareTo(b.Start));
        return taken;

        static int Priority(PersonalDataKind k) => k switch
        {
            PersonalDataKind.Email => 0,
            PersonalDataKind.Iban => 1,
            PersonalDataKind.PaymentCard => 2,
            PersonalDataKind.NationalId => 3,
            PersonalDataKind.Phone => 4,
            _ => 5,
        };
    }

    private static (int, int) TrimSpan(string text, int start, int length)
    {
        while (length > 0 && (char.IsWhiteSpace(text[start]) || text[start] is '(' && !text.AsSpan(start, length).Contains(')'))) { start++; length--; }
        while (length > 0 && (char.IsWhiteSpace(text[start + length - 1]) || text[start + length - 1] is '-' or '/' or '.' or '(')) length--;
        return (start, length);
    }

    // ---------------------------------------------------------------- checks

    private static bool ValidEmail(Match m) => !FileExtensionTlds.Contains(m.Groups["tld"].Value);

    private static readonly Dictionary<string, int> IbanLengths = new(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22,
        ["BR"] = 29, ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["DO"] = 28,
        ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22, ["GE"] = 22, ["GI"] = 23,
        ["GL"] = 18, ["GR"] = 27, ["GT"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26,
        ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LC"] = 32, ["LI"] = 21, ["LT"] = 20, ["LU"] = 20,
        ["LV"] = 21, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19, ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NL"] = 18,
        ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["SA"] = 24,
        ["SC"] = 31, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["ST"] = 25, ["SV"] = 28, ["TL"] = 23, ["TN"] = 24,
        ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20,
    };

    /// <summary>
    /// The pattern may run on into the next word ("DE89 3704 0044 0532 0130 00 AND"), so the country's IBAN length
    /// decides where the IBAN ends; then the mod-97 checksum must hold.
    /// </summary>
    private static (int, int)? IbanSpan(Match m)
    {
        if (!IbanLengths.TryGetValue(m.Groups["cc"].Value, out var length)) return null;
        var compact = new StringBuilder(length);
        int end = m.Index;
        for (int i = m.Index; i < m.Index + m.Length && compact.Length < length; i++)
        {
            var c = m.Value[i - m.Index];
            if (char.IsAsciiLetterOrDigit(c)) { compact.Append(char.ToUpperInvariant(c)); end = i + 1; }
        }
        if (compact.Length != length) return null;
        var full = m.Value;
        // The IBAN must not run straight on into more letters or digits (that is a longer code, not an IBAN).
        var next = end - m.Index;
        if (next < full.Length && char.IsAsciiLetterOrDigit(full[next])) return null;
        return IsValidIban(compact.ToString()) ? (m.Index, end - m.Index) : null;
    }

    public static bool IsValidIban(string compact)
    {
        if (compact.Length < 15 || !IbanLengths.TryGetValue(compact[..2], out var length) || length != compact.Length) return false;
        var rearranged = compact[4..] + compact[..4];
        int remainder = 0;
        foreach (var c in rearranged)
        {
            if (char.IsAsciiDigit(c)) remainder = (remainder * 10 + (c - '0')) % 97;
            else if (char.IsAsciiLetterUpper(c)) remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            else return false;
        }
        return remainder == 1;
    }

    private static bool ValidCard(Match m)
    {
        var value = m.Value;
        var digits = new string([.. value.Where(char.IsAsciiDigit)]);
        if (digits.Length is < 13 or > 19 || !LuhnValid(digits) || !KnownIssuer(digits)) return false;
        if (digits.Distinct().Count() == 1) return false;
        var separators = value.Where(c => c is ' ' or '-').Distinct().ToList();
        if (separators.Count > 1) return false;
        if (separators.Count == 1)
        {
            // Cards are written in groups of four (Amex 4-6-5); other groupings are account or order numbers.
            var groups = value.Split(separators[0]).Select(g => g.Length).ToArray();
            var fours = groups.Take(groups.Length - 1).All(g => g == 4) && groups[^1] is >= 1 and <= 4;
            var amex = groups is [4, 6, 5] || groups is [4, 6, 4];
            if (!fours && !amex) return false;
        }
        return true;
    }

    public static bool LuhnValid(string digits)
    {
        int sum = 0;
        bool dbl = false;
        for (int i = digits.Length - 1; i >= 0; i--)
        {
            int d = digits[i] - '0';
            if (dbl) { d *= 2; if (d > 9) d -= 9; }
            sum += d;
            dbl = !dbl;
        }
        return sum % 10 == 0;
    }

    private static bool KnownIssuer(string d)
    {
        int Prefix(int n) => int.Parse(d.AsSpan(0, n), provider: System.Globalization.CultureInfo.InvariantCulture);
        return d[0] == '4'                                                   // Visa
            || Prefix(2) is >= 51 and <= 55 || Prefix(4) is >= 2221 and <= 2720 // Mastercard
            || Prefix(2) is 34 or 37                                          // American Express
            || Prefix(4) == 6011 || Prefix(2) == 65 || Prefix(3) is >= 644 and <= 649 // Discover
            || Prefix(2) is 35 or 36 or 38 or 30                              // JCB, Diners
            || Prefix(2) == 62                                                // UnionPay
            || Prefix(2) is 50 or (>= 56 and <= 69);                          // Maestro
    }

    private bool IsPhone(string text, int start, int length)
    {
        if (length < 7) return false;
        var candidate = text.Substring(start, length);
        var digits = candidate.Count(char.IsAsciiDigit);
        if (digits is < 7 or > 15) return false;
        if (_p.DateLike.IsMatch(candidate)) return false;
        if (candidate.Count(c => c == '(') != candidate.Count(c => c == ')')) return false;

        var before = text.Substring(Math.Max(0, start - 30), Math.Min(30, start));
        var positive = _p.PhoneWords.IsMatch(before);
        if (!positive && _p.NotPhoneWords.IsMatch(before)) return false;

        var international = candidate.StartsWith('+') || candidate.StartsWith("00", StringComparison.Ordinal);
        if (international)
        {
            var normalized = candidate.StartsWith('+') ? candidate : "+" + candidate[2..];
            return Valid(normalized, "ZZ");
        }
        // Without a country code a bare run of digits is more often an order or customer number than a phone number:
        // ask for a word like "phone" nearby, or a layout people use for phone numbers (trunk 0, (area) code, 3-3-4).
        var layout = candidate.StartsWith('0') && candidate.Any(c => !char.IsAsciiDigit(c))
            || candidate.StartsWith('(')
            || _p.UsLayout.IsMatch(candidate);
        if (!positive && !layout) return false;
        return _options.PhoneRegions.Any(r => Valid(candidate, r));

        static bool Valid(string number, string region)
        {
            try
            {
                return Phones.IsValidNumber(Phones.Parse(number, region));
            }
            catch (NumberParseException)
            {
                return false;
            }
        }
    }

    /// <summary>A form that shows the kind and a hint of the value, never enough to recover it.</summary>
    public static string Mask(PersonalDataKind kind, string value)
    {
        // Initials only: "Maria Gonzalez" shows as "M. G.".
        if (kind == PersonalDataKind.Name)
            return string.Join(' ', value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => char.IsUpper(w[0])).Select(w => $"{w[0]}."));
        if (kind == PersonalDataKind.Email)
        {
            var at = value.IndexOf('@');
            var dot = value.LastIndexOf('.');
            return $"{value[0]}***@***{(dot > at ? value[dot..] : "")}";
        }
        var keep = kind is PersonalDataKind.Iban ? 2 : 0;
        var tail = kind is PersonalDataKind.NationalId ? 2 : kind is PersonalDataKind.Phone ? 2 : 4;
        var alnumTotal = value.Count(char.IsLetterOrDigit);
        var sb = new StringBuilder(value.Length);
        int seen = 0;
        foreach (var c in value)
        {
            if (!char.IsLetterOrDigit(c)) { sb.Append(c); continue; }
            seen++;
            sb.Append(seen <= keep || seen > alnumTotal - tail ? c : '•');
        }
        return sb.ToString();
    }
}
