using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace SlmStudio.Core.Data;

/// <summary>A record together with the file it came from.</summary>
public sealed record SourcedRecord(string File, TextRecord Record);

/// <summary>A removed duplicate beside the record it repeats, for the review.</summary>
public sealed record DuplicateExample(string RemovedText, string RemovedFile, int? RemovedLine, string KeptText, string KeptFile, int? KeptLine, bool Exact, double Similarity);

/// <summary>
/// Two records that say the same thing with boilerplate-level differences (a typo, a missing "the", case or
/// punctuation), for the review to offer "keep both" or "remove the second". <see cref="Id"/> is stable for the same
/// two records, so a choice made in the review can be passed back in <see cref="DeduplicationOptions.RemoveNearIds"/>.
/// </summary>
public sealed record NearDuplicatePair(string Id, string FirstText, string FirstFile, int? FirstLine, string SecondText, string SecondFile, int? SecondLine,
    double Similarity, bool Removed);

public sealed record DeduplicationResult(IReadOnlyList<SourcedRecord> Kept, int ExactRemoved, int NearRemoved, IReadOnlyList<DuplicateExample> Examples)
{
    public int Removed => ExactRemoved + NearRemoved;

    /// <summary>Every near-duplicate pair found (the second record of a pair is the later one), removed or not.</summary>
    public IReadOnlyList<NearDuplicatePair> NearPairs { get; init; } = [];
}

public sealed record DeduplicationOptions
{
    /// <summary>Word similarity from which two records are near-duplicate candidates at all; 1.0 turns near matching off.</summary>
    public double NearThreshold { get; init; } = 0.8;
    /// <summary>Remove the second record of every near-duplicate pair (off by default: only exact copies go unless the user chooses).</summary>
    public bool RemoveAllNear { get; init; }
    /// <summary>Pairs (by <see cref="NearDuplicatePair.Id"/>) whose second record the user chose to remove.</summary>
    public IReadOnlySet<string> RemoveNearIds { get; init; } = new HashSet<string>();
    public int MaxExamples { get; init; } = 20;
}

/// <summary>
/// Removes exact duplicates (same words after case, punctuation and whitespace are normalised) and finds near
/// duplicates. Candidates are found with MinHash over word sets and locality-sensitive hashing, so the cost grows
/// linearly with the data; a candidate is a near duplicate only when the two word sequences differ at boilerplate
/// level: every difference is a typo of the same word or an added/dropped small function word ("the", "and"), never a
/// different number, name or other word. Word overlap alone is no evidence: a handbook's "Dental" and "Vision"
/// insurance paragraphs share 97% of their word 3-grams and state different facts. Exact duplicates are removed; near
/// duplicates are reported in pairs and removed only when asked (<see cref="DeduplicationOptions"/>). The first
/// occurrence is kept.
/// </summary>
public static class Deduplicator
{
    private const int Hashes = 64;
    private const int Bands = 16;
    private const int Rows = Hashes / Bands;
    /// <summary>Below this many words a record is compared only exactly: near-matching "Yes." and "Yes!" is noise.</summary>
    public const int MinWordsForNear = 8;
    /// <summary>How many candidates one record is checked against at most: keeps a pathological set (thousands of near-identical form letters) linear.</summary>
    private const int MaxCandidatesChecked = 200;

    private static readonly ulong[] Seeds = MakeSeeds();

    /// <summary>
    /// Kept for existing callers: finds near duplicates with <paramref name="nearThreshold"/> and reports them in
    /// <see cref="DeduplicationResult.NearPairs"/>, but removes only exact duplicates (the review's default).
    /// </summary>
    public static DeduplicationResult Deduplicate(IReadOnlyList<SourcedRecord> records, double nearThreshold = 0.8, int maxExamples = 20, CancellationToken ct = default) =>
        Deduplicate(records, new DeduplicationOptions { NearThreshold = nearThreshold, MaxExamples = maxExamples }, ct);

    public static DeduplicationResult Deduplicate(IReadOnlyList<SourcedRecord> records, DeduplicationOptions options, CancellationToken ct = default)
    {
        var kept = new List<SourcedRecord>(records.Count);
        var examples = new List<DuplicateExample>();
        var pairs = new List<NearDuplicatePair>();
        var exact = new Dictionary<UInt128, int>();          // normalised-text hash -> index in kept
        var keptWords = new List<List<string>?>();
        var buckets = new Dictionary<(int Band, ulong Key), List<int>>();
        int exactRemoved = 0, nearRemoved = 0;

        foreach (var record in records)
        {
            ct.ThrowIfCancellationRequested();
            var words = Words(record.Record.Text);
            var key = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(string.Join(' ', words).AsSpan()));
            if (exact.TryGetValue(key, out var same))
            {
                exactRemoved++;
                if (examples.Count < options.MaxExamples) examples.Add(Example(record, kept[same], true, 1.0));
                continue;
            }

            ulong[]? signature = null;
            if (options.NearThreshold < 1.0 && words.Count >= MinWordsForNear)
            {
                signature = MinHash(WordSet(words));
                int match = -1;
                double best = 0;
                var checkedCandidates = new HashSet<int>();
                for (int b = 0; b < Bands && match < 0 && checkedCandidates.Count < MaxCandidatesChecked; b++)
                {
                    if (!buckets.TryGetValue((b, BandKey(signature, b)), out var list)) continue;
                    foreach (var candidate in list)
                    {
                        if (!checkedCandidates.Add(candidate)) continue;
                        var similarity = NearSimilarity(words, keptWords[candidate]!);
                        if (similarity >= options.NearThreshold) { match = candidate; best = similarity; break; }
                        if (checkedCandidates.Count >= MaxCandidatesChecked) break;
                    }
                }
                if (match >= 0)
                {
                    var first = kept[match];
                    var id = PairId(first, record);
                    var remove = options.RemoveAllNear || options.RemoveNearIds.Contains(id);
                    pairs.Add(new NearDuplicatePair(id, first.Record.Text, first.File, first.Record.Line, record.Record.Text, record.File, record.Record.Line,
                        Math.Round(best, 3), remove));
                    if (remove)
                    {
                        nearRemoved++;
                        if (examples.Count < options.MaxExamples) examples.Add(Example(record, first, false, best));
                        continue;
                    }
                }
            }

            var index = kept.Count;
            kept.Add(record);
            keptWords.Add(signature is null ? null : words);
            exact[key] = index;
            if (signature is not null)
                for (int b = 0; b < Bands; b++)
                {
                    var bucketKey = (b, BandKey(signature, b));
                    if (!buckets.TryGetValue(bucketKey, out var list)) buckets[bucketKey] = list = [];
                    list.Add(index);
                }
        }
        return new DeduplicationResult(kept, exactRemoved, nearRemoved, examples) { NearPairs = pairs };
    }

    /// <summary>Hash of both records' files, lines and normalised texts: the same pair gets the same id on every run.</summary>
    private static string PairId(SourcedRecord first, SourcedRecord second)
    {
        var text = $"{first.File}\0{first.Record.Line}\0{string.Join(' ', Words(first.Record.Text))}\0{second.File}\0{second.Record.Line}\0{string.Join(' ', Words(second.Record.Text))}";
        return Convert.ToHexStringLower(XxHash128.Hash(MemoryMarshal.AsBytes(text.AsSpan())));
    }

    /// <summary>Small words whose presence or absence does not change what a sentence states.</summary>
    private static readonly HashSet<string> FunctionWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "from", "as", "is", "are", "be",
        "that", "this", "these", "those", "it", "its", "their", "our", "your", "then", "so", "also", "just", "very", "please",
    };

    /// <summary>
    /// 1 minus the share of words that differ, when every difference between the two word sequences is boilerplate
    /// (a typo: the same word spelled one or two letters differently, never in a number; or a function word added or
    /// dropped); 0 when any difference is a different word, number or name. Computed with an edit-distance alignment
    /// over words, limited to a band of width k (the number of differences the threshold allows), so it costs O(n·k).
    /// </summary>
    public static double NearSimilarity(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var longer = Math.Max(a.Count, b.Count);
        if (longer == 0) return 1.0;
        // Allow up to a fifth of the words to differ (in boilerplate ways); more than that is not "the same paragraph".
        var k = Math.Max(1, longer / 5);
        if (Math.Abs(a.Count - b.Count) > k) return 0;
        const int Infinite = int.MaxValue / 4;
        // Row i holds cost(i, j) for |i - j| <= k at index j - i + k. A step costs 1 when it is a typo of the same
        // word or a function word added or dropped; any other difference is not allowed at all.
        var width = 2 * k + 1;
        var previous = new int[width];
        var current = new int[width];
        Array.Fill(previous, Infinite);
        for (int i = 0; i <= a.Count; i++)
        {
            for (int d = 0; d < width; d++)
            {
                var j = i + d - k;
                if (j < 0 || j > b.Count) { current[d] = Infinite; continue; }
                if (i == 0 && j == 0) { current[d] = 0; continue; }
                var best = Infinite;
                if (i > 0 && j > 0 && previous[d] < Infinite)
                {
                    if (a[i - 1] == b[j - 1]) best = previous[d];
                    else if (IsTypo(a[i - 1], b[j - 1])) best = previous[d] + 1;
                }
                if (j > 0 && d > 0 && current[d - 1] < Infinite && FunctionWords.Contains(b[j - 1])) best = Math.Min(best, current[d - 1] + 1);
                if (i > 0 && d + 1 < width && previous[d + 1] < Infinite && FunctionWords.Contains(a[i - 1])) best = Math.Min(best, previous[d + 1] + 1);
                current[d] = best;
            }
            (previous, current) = (current, previous);
        }
        var edits = previous[b.Count - a.Count + k];
        if (edits > k) return 0;
        return 1.0 - (double)edits / longer;
    }

    /// <summary>The same word misspelled: no digits involved, long enough to tell, and one edit apart (two for long words).</summary>
    public static bool IsTypo(string x, string y)
    {
        if (x.Any(char.IsDigit) || y.Any(char.IsDigit)) return false;
        var shorter = Math.Min(x.Length, y.Length);
        if (shorter < 4) return false;
        var allowed = shorter >= 9 ? 2 : 1;
        if (Math.Abs(x.Length - y.Length) > allowed) return false;
        // A different first letter is more often a different word (bill/pill, dental/rental) than a typo.
        if (x[0] != y[0]) return false;
        return Distance(x, y) <= allowed;
    }

    /// <summary>Optimal string alignment distance (Levenshtein plus swapping two neighbouring letters).</summary>
    private static int Distance(string s, string t)
    {
        var d = new int[s.Length + 1, t.Length + 1];
        for (int i = 0; i <= s.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= t.Length; j++) d[0, j] = j;
        for (int i = 1; i <= s.Length; i++)
            for (int j = 1; j <= t.Length; j++)
            {
                var cost = s[i - 1] == t[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[s.Length, t.Length];
    }

    private static DuplicateExample Example(SourcedRecord removed, SourcedRecord kept, bool exact, double similarity) =>
        new(Short(removed.Record.Text), removed.File, removed.Record.Line, Short(kept.Record.Text), kept.File, kept.Record.Line, exact, Math.Round(similarity, 3));

    private static string Short(string s) => s.Length <= 300 ? s : s[..299] + "…";

    /// <summary>Lower-case words (letters and digits), punctuation dropped: what "the same text" means here.</summary>
    public static List<string> Words(string text)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c)) sb.Append(char.ToLowerInvariant(c));
            else if (sb.Length > 0) { words.Add(sb.ToString()); sb.Clear(); }
        }
        if (sb.Length > 0) words.Add(sb.ToString());
        return words;
    }

    /// <summary>Hashes of the distinct words: a typo changes one element, so typo variants still meet in an LSH band.</summary>
    internal static ulong[] WordSet(List<string> words)
    {
        var set = new HashSet<ulong>();
        foreach (var w in words) set.Add(XxHash3.HashToUInt64(MemoryMarshal.AsBytes(w.AsSpan())));
        var array = set.ToArray();
        Array.Sort(array);
        return array;
    }

    private static ulong[] MinHash(ulong[] shingles)
    {
        var signature = new ulong[Hashes];
        Array.Fill(signature, ulong.MaxValue);
        foreach (var s in shingles)
            for (int i = 0; i < Hashes; i++)
            {
                var h = Mix(s ^ Seeds[i]);
                if (h < signature[i]) signature[i] = h;
            }
        return signature;
    }

    private static ulong BandKey(ulong[] signature, int band)
    {
        ulong h = 1469598103934665603UL;
        for (int r = 0; r < Rows; r++) h = Mix(h ^ signature[band * Rows + r]);
        return h;
    }

    /// <summary>splitmix64 finaliser: a cheap, well-spread 64-bit mix used to derive the MinHash functions.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong[] MakeSeeds()
    {
        var seeds = new ulong[Hashes];
        ulong x = 0x9E3779B97F4A7C15UL;
        for (int i = 0; i < Hashes; i++) { x += 0x9E3779B97F4A7C15UL; seeds[i] = Mix(x); }
        return seeds;
    }
}
