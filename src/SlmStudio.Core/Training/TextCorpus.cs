using System.Text;

namespace SlmStudio.Core.Training;

/// <summary>
/// Training text split into train and validation documents. A dataset version folder (dataset.json, train.txt,
/// val.txt) keeps its frozen split; otherwise every document gives up the same share for validation: evenly spaced
/// blocks of a long document (a single big file often changes topic from start to end, so its tail alone would not
/// resemble the rest), or the last part of a short one, always cut at a paragraph break.
/// </summary>
public sealed record TextCorpus(IReadOnlyList<string> TrainDocuments, IReadOnlyList<string> ValidationDocuments, IReadOnlyList<string> SourceFiles)
{
    public static readonly string[] TextExtensions = [".txt", ".md"];

    public long TrainCharacters => TrainDocuments.Sum(d => (long)d.Length);
    public long ValidationCharacters => ValidationDocuments.Sum(d => (long)d.Length);

    public static TextCorpus Load(string path, double validationFraction)
    {
        if (File.Exists(path)) return Split([path], validationFraction);
        if (!Directory.Exists(path)) throw new EngineException($"The data path '{path}' does not exist. Give a .txt or .md file, or a folder of them.");

        var train = Path.Combine(path, "train.txt");
        var val = Path.Combine(path, "val.txt");
        if (File.Exists(Path.Combine(path, "dataset.json")) && File.Exists(train) && File.Exists(val))
        {
            var trainText = ReadText(train);
            var valText = ReadText(val);
            if (trainText.Trim().Length == 0) throw new EngineException($"The dataset in '{path}' has no training text.");
            if (valText.Trim().Length == 0) throw new EngineException($"The dataset in '{path}' has no validation text; build the dataset again with a validation share above zero.");
            return new TextCorpus([trainText], [valText], [train, val]);
        }

        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => TextExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0) throw new EngineException($"The folder '{path}' contains no .txt or .md files.");
        return Split(files, validationFraction);
    }

    private static TextCorpus Split(IReadOnlyList<string> files, double validationFraction)
    {
        if (!TextExtensions.Contains(Path.GetExtension(files[0]), StringComparer.OrdinalIgnoreCase) && files.Count == 1)
            throw new EngineException($"'{Path.GetFileName(files[0])}' is not a .txt or .md file. Convert it to text first (the portal's data step reads PDF, Word, CSV and more).");
        var documents = files.Select(f => (File: f, Text: ReadText(f))).Where(d => d.Text.Trim().Length > 0).ToList();
        if (documents.Count == 0)
            throw new EngineException(files.Count == 1 ? $"'{Path.GetFileName(files[0])}' is empty: there is no text to train on." : "All the data files are empty: there is no text to train on.");

        var train = new List<string>();
        var val = new List<string>();
        foreach (var (_, text) in documents) HoldOut(text, validationFraction, train, val);
        if (val.Count == 0) throw new EngineException("The text is too short to hold some of it back for validation. Add more text.");
        return new TextCorpus(train, val, documents.Select(d => d.File).ToList());
    }

    private const int BlocksPerDocument = 100;
    private const int MinimumBlockCharacters = 1_000;

    /// <summary>Moves every k-th block of <paramref name="text"/> (k = 1 / fraction) to validation; contiguous rest stays training.</summary>
    private static void HoldOut(string text, double fraction, List<string> train, List<string> val)
    {
        var every = (int)Math.Round(1 / fraction);
        var blockLength = Math.Max(MinimumBlockCharacters, text.Length / BlocksPerDocument);
        if (fraction <= 0 || text.Length < 2 * every * blockLength)
        {
            var cut = SplitPoint(text, 1 - fraction);
            train.Add(text[..cut]);
            if (cut < text.Length) val.Add(text[cut..]);
            return;
        }
        var start = 0;
        var trainStart = 0;
        for (int block = 0; start < text.Length; block++)
        {
            var end = start + blockLength >= text.Length ? text.Length : SplitPoint(text, start + blockLength);
            if (end <= start) end = Math.Min(text.Length, start + blockLength);
            if (block % every == every / 2 && end > start)
            {
                if (start > trainStart) train.Add(text[trainStart..start]);
                val.Add(text[start..end]);
                trainStart = end;
            }
            start = end;
        }
        if (trainStart < text.Length) train.Add(text[trainStart..]);
    }

    private static int SplitPoint(string text, double fraction) => SplitPoint(text, (int)(text.Length * fraction));

    /// <summary>A paragraph (or at least line) break near <paramref name="target"/>, so no sentence is cut in two.</summary>
    private static int SplitPoint(string text, int target)
    {
        var window = Math.Max(200, text.Length / 20);
        foreach (var separator in new[] { "\n\n", "\n", ". ", " " })
        {
            var after = text.IndexOf(separator, target, StringComparison.Ordinal);
            if (after >= 0 && after - target <= window) return after + separator.Length;
            var before = target > 0 ? text.LastIndexOf(separator, target, StringComparison.Ordinal) : -1;
            if (before > 0 && target - before <= window) return before + separator.Length;
        }
        return target;
    }

    /// <summary>UTF-8 (with or without BOM) or UTF-16 with BOM; line endings become "\n".</summary>
    public static string ReadText(string file)
    {
        var bytes = File.ReadAllBytes(file);
        string text;
        try
        {
            text = bytes switch
            {
                [0xFF, 0xFE, ..] => Encoding.Unicode.GetString(bytes, 2, bytes.Length - 2),
                [0xFE, 0xFF, ..] => Encoding.BigEndianUnicode.GetString(bytes, 2, bytes.Length - 2),
                [0xEF, 0xBB, 0xBF, ..] => new UTF8Encoding(false, true).GetString(bytes, 3, bytes.Length - 3),
                _ => new UTF8Encoding(false, true).GetString(bytes),
            };
        }
        catch (DecoderFallbackException)
        {
            throw new EngineException($"'{Path.GetFileName(file)}' is not UTF-8 text. Save it as UTF-8 (in most editors: Save As, Encoding: UTF-8) and try again.");
        }
        if (text.Contains('\0')) throw new EngineException($"'{Path.GetFileName(file)}' looks like a binary file, not text.");
        return text.Replace("\r\n", "\n").Replace('\r', '\n');
    }
}
