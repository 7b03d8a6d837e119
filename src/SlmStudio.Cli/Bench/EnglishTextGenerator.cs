using System.Text;

namespace SlmStudio.Cli.Bench;

/// <summary>
/// Deterministic English-like text for benchmarks when the user gives no file: common English words drawn with a
/// Zipf-like distribution with a long tail of made-up words, sentences with capitals, commas, numbers and paragraphs, so that BPE sees realistic
/// word frequencies. Same size and seed, same text.
/// </summary>
public static class EnglishTextGenerator
{
    private static readonly string[] Words = (
        "the of and to a in is that for it as was with be by on not he this are or his from at which but have an they " +
        "you were her she there been one all we their has would when if so no will more about up out who them some " +
        "could what time only into its then two than other new these may like first any after very should our people " +
        "over such most also through where much before between made years well way many even back work being because " +
        "those down each under still just life three must same great state however both world own long day here year " +
        "while might good company customer account payment policy employee manager report service contract agreement " +
        "bank loan interest rate credit card balance transfer request process support team issue question answer " +
        "information system data document section paragraph clause party notice period date amount total monthly " +
        "annual review approval department office leave salary benefit training meeting project plan schedule budget " +
        "risk compliance regulation law court case evidence claim right obligation term condition provide include " +
        "require receive apply follow consider continue develop increase reduce return improve ensure confirm contact " +
        "please thank help need want know think make take give find tell ask use call try feel become leave put mean " +
        "keep let begin seem show hear play run move live believe hold bring happen write sit stand lose pay meet " +
        "important available different possible following public private local national international financial " +
        "personal necessary current recent general specific additional original final early late small large high low")
        .Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static readonly string[] Onsets = ["b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "ch", "sp"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "io", "ee", "oo", "y"];
    private static readonly string[] Codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "nt", "st", "ck", "ng", "rt", "ss"];
    private static readonly string[] Suffixes = ["", "", "", "s", "ed", "ing", "er", "ly", "tion", "ment", "ness", "able", "ive", "al", "ity"];

    /// <summary>
    /// The vocabulary: real common words first, then pronounceable made-up words built from English syllables and
    /// suffixes, which give the long tail of rarer words (names, terms) that real documents have.
    /// </summary>
    private static string[] Vocabulary(Random random, int extra)
    {
        var words = new List<string>(Words);
        var seen = new HashSet<string>(Words);
        while (words.Count < Words.Length + extra)
        {
            var sb = new StringBuilder();
            int syllables = 1 + random.Next(3);
            for (int i = 0; i < syllables; i++)
                sb.Append(Onsets[random.Next(Onsets.Length)]).Append(Vowels[random.Next(Vowels.Length)]).Append(Codas[random.Next(Codas.Length)]);
            sb.Append(Suffixes[random.Next(Suffixes.Length)]);
            var word = sb.ToString();
            if (seen.Add(word)) words.Add(word);
        }
        return [.. words];
    }

    public static string Generate(int characters, int seed = 12345)
    {
        var random = new Random(seed);
        var words = Vocabulary(random, 20_000);
        // Zipf-like weights: the k-th word is about 1/(k+1) as likely as the first.
        var cumulative = new double[words.Length];
        double sum = 0;
        for (int k = 0; k < words.Length; k++) cumulative[k] = sum += 1.0 / (k + 1);
        string Word()
        {
            double r = random.NextDouble() * sum;
            int i = Array.BinarySearch(cumulative, r);
            return words[Math.Min(i < 0 ? ~i : i, words.Length - 1)];
        }

        var sb = new StringBuilder(characters + 200);
        while (sb.Length < characters)
        {
            int sentences = 2 + random.Next(5);
            for (int s = 0; s < sentences; s++)
            {
                int length = 5 + random.Next(16);
                for (int w = 0; w < length; w++)
                {
                    var word = Word();
                    if (w == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
                    sb.Append(word);
                    if (w < length - 1)
                    {
                        int r = random.Next(40);
                        if (r == 0) sb.Append(", ").Append(random.Next(1, 2000)).Append(' ');
                        else if (r < 4) sb.Append(", ");
                        else sb.Append(' ');
                    }
                }
                sb.Append(random.Next(10) == 0 ? "? " : ". ");
            }
            sb.Length--;
            sb.Append("\n\n");
        }
        return sb.ToString(0, characters);
    }
}
