using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace SlmStudio.Core.Data;

/// <summary>A record together with the file it came from.</summary>
public sealed record SourcedRecord(string File, TextRecord Record);

/// <summary>A removed duplicate beside the record it repeats, for the review.</summary>
public sealed record DuplicateExample(string RemovedText, string RemovedFile, int? RemovedLine, string KeptText, string KeptFile, int? KeptLine, bool Exact, double Similarity);

public sealed record DeduplicationResult(IReadOnlyList<SourcedRecord> Kept, int ExactRemoved, int NearRemoved, IReadOnlyList<DuplicateExample> Examples)
{
    public int Removed => ExactRemoved + NearRemoved;
}

/// <summary>
/// Removes exact duplicates (same text after case and whitespace are normalised) and near duplicates: records whose
/// sets of word 3-grams overlap by at least the threshold (Jaccard similarity). Candidates are found with MinHash and
/// locality-sensitive hashing so that the cost grows linearly with the data, then confirmed on the real 3-gram sets.
/// The first occurrence is kept.
/// </summary>
public static class Deduplicator
{
    private const int Hashes = 64;
    private const int Bands = 16;
    private const int Rows = Hashes / Bands;
    /// <summary>Below this many words a record is compared only exactly: near-matching "Yes." and "Yes!" is noise.</summary>
    public const int MinWordsForNear = 8;

    private static readonly ulong[] Seeds = MakeSeeds();

    public static DeduplicationResult Deduplicate(IReadOnlyList<SourcedRecord> records, double nearThreshold = 0.8, int maxExamples = 20, CancellationToken ct = default)
    {
        var kept = new List<SourcedRecord>(records.Count);
        var examples = new List<DuplicateExample>();
        var exact = new Dictionary<UInt128, int>();          // normalised-text hash -> index in kept
        var keptShingles = new List<ulong[]?>();
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
                if (examples.Count < maxExamples) examples.Add(Example(record, kept[same], true, 1.0));
                continue;
            }

            ulong[]? shingles = null;
            ulong[]? signature = null;
            if (nearThreshold < 1.0 && words.Count >= MinWordsForNear)
            {
                shingles = Shingles(words);
                signature = MinHash(shingles);
                int match = -1;
                double best = 0;
                var checkedCandidates = new HashSet<int>();
                for (int b = 0; b < Bands && match < 0; b++)
                {
                    if (!buckets.TryGetValue((b, BandKey(signature, b)), out var list)) continue;
                    foreach (var candidate in list)
                    {
                        if (!checkedCandidates.Add(candidate)) continue;
                        var similarity = Jaccard(shingles, keptShingles[candidate]!);
                        if (similarity >= nearThreshold) { match = candidate; best = similarity; break; }
                    }
                }
                if (match >= 0)
                {
                    nearRemoved++;
                    if (examples.Count < maxExamples) examples.Add(Example(record, kept[match], false, best));
                    continue;
                }
            }

            var index = kept.Count;
            kept.Add(record);
            keptShingles.Add(shingles);
            exact[key] = index;
            if (signature is not null)
                for (int b = 0; b < Bands; b++)
                {
                    var bucketKey = (b, BandKey(signature, b));
                    if (!buckets.TryGetValue(bucketKey, out var list)) buckets[bucketKey] = list = [];
                    list.Add(index);
                }
        }
        return new DeduplicationResult(kept, exactRemoved, nearRemoved, examples);
    }

    private static DuplicateExample Example(SourcedRecord removed, SourcedRecord kept, bool exact, double similarity) =>
        new(Short(removed.Record.Text), removed.File, removed.Record.Line, Short(kept.Record.Text), kept.File, kept.Record.Line, exact, Math.Round(similarity, 3));

    private static string Short(string s) => s.Length <= 300 ? s : s[..299] + "…";

    /// <summary>Lower-case words (letters and digits), punctuation dropped: what "the same text" means here.</summary>
    internal static List<string> Words(string text)
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

    internal static ulong[] Shingles(List<string> words)
    {
        var set = new HashSet<ulong>();
        for (int i = 0; i + 3 <= words.Count; i++)
            set.Add(XxHash3.HashToUInt64(MemoryMarshal.AsBytes($"{words[i]} {words[i + 1]} {words[i + 2]}".AsSpan())));
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

    internal static double Jaccard(ulong[] a, ulong[] b)
    {
        int i = 0, j = 0, both = 0;
        while (i < a.Length && j < b.Length)
        {
            if (a[i] == b[j]) { both++; i++; j++; }
            else if (a[i] < b[j]) i++;
            else j++;
        }
        var union = a.Length + b.Length - both;
        return union == 0 ? 1.0 : (double)both / union;
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
