using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Data;

[JsonConverter(typeof(JsonStringEnumConverter<DatasetTask>))]
public enum DatasetTask
{
    /// <summary>"Write like us": plain text for a causal language model.</summary>
    Text,
    /// <summary>"Sort and route": text with a label.</summary>
    Classification,
    /// <summary>"Answer questions": prompt and response pairs.</summary>
    QuestionAnswer,
}

[JsonConverter(typeof(JsonStringEnumConverter<SplitStrategy>))]
public enum SplitStrategy { Auto, File, Label }

public sealed record DatasetSettings
{
    public bool RedactPersonalData { get; init; } = true;
    public bool RemoveDuplicates { get; init; } = true;
    /// <summary>Word 3-gram overlap (Jaccard) from which two records count as near duplicates; 1.0 turns near matching off.</summary>
    public double NearDuplicateThreshold { get; init; } = 0.8;
    public double ValidationFraction { get; init; } = 0.1;
    public int Seed { get; init; } = 1234;
    /// <summary>Auto: by label for classification data, otherwise by source file.</summary>
    public SplitStrategy StratifyBy { get; init; } = SplitStrategy.Auto;
    public IReadOnlyList<string>? PhoneRegions { get; init; }
    /// <summary>The use case the data is for; null decides from the records (prompt/response, labels, or plain text).</summary>
    public DatasetTask? Task { get; init; }
    /// <summary>
    /// Near-duplicate pairs (<see cref="NearDuplicatePair.Id"/>) whose second record the user chose to remove; the others
    /// are kept. Part of the settings, so the choice is recorded in the frozen version and changes its id; left out of
    /// the JSON when empty, so versions frozen without a choice keep their ids.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? RemoveNearDuplicates { get; init; }
}

public sealed record DataProgress(string Stage, long Done, long Total, string? File = null);

public sealed record DatasetSource(string OriginalName, string Sha256, long SizeBytes, DocumentKind Kind, int Records, long Characters);

public sealed record DatasetFile(string Name, string Sha256, long SizeBytes);

/// <summary>Everything the user reviews before a dataset version is frozen; nothing is written yet.</summary>
public sealed record PreparationReview(
    DatasetTask Task,
    IReadOnlyList<SourcedRecord> Records,
    IReadOnlyList<DatasetSource> Sources,
    IReadOnlyList<DataProblem> Problems,
    DocumentStats Stats,
    int ExactDuplicatesRemoved,
    int NearDuplicatesRemoved,
    IReadOnlyList<DuplicateExample> DuplicateExamples,
    IReadOnlyDictionary<string, int> RedactionCounts,
    IReadOnlyList<RedactionFinding> RedactionFindings,
    int RedactionFindingsTotal)
{
    /// <summary>Every near-duplicate pair found, with whether its second record is removed (the user's choice).</summary>
    public IReadOnlyList<NearDuplicatePair> NearPairs { get; init; } = [];
}

/// <summary>
/// Turns extracted documents into a dataset version: redaction, duplicate removal, a seeded stratified split, and an
/// immutable folder named by its content hash. The trainer reads <c>train.txt</c> and <c>val.txt</c> (records
/// separated by a blank line); labelled and question-answer data also get <c>train.jsonl</c>/<c>val.jsonl</c>.
/// </summary>
public static class DatasetBuilder
{
    public const int MaxFindingsListed = 5000;

    public static PreparationReview Review(IReadOnlyList<ExtractedDocument> docs, DatasetSettings settings, IProgress<DataProgress>? progress = null, CancellationToken ct = default)
    {
        var problems = new List<DataProblem>();
        var sources = new List<DatasetSource>();
        var records = new List<SourcedRecord>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var doc in docs)
        {
            problems.AddRange(doc.Problems);
            if (!doc.IsUsable) continue;
            if (doc.SourceSha256 is { } hash)
            {
                if (seen.TryGetValue(hash, out var first))
                {
                    problems.Add(new DataProblem(doc.DisplayName, null, ProblemSeverity.Warning,
                        $"This file is the same as '{SafeFileName.ForDisplay(first)}' (identical content); it was used only once.",
                        "Nothing to do, unless you meant to upload a different file."));
                    continue;
                }
                seen[hash] = doc.OriginalName;
            }
            sources.Add(new DatasetSource(doc.OriginalName, doc.SourceSha256 ?? "", doc.SourceBytes, doc.Kind, doc.Records.Count, doc.Stats.Characters));
            records.AddRange(doc.Records.Select(r => new SourcedRecord(doc.OriginalName, r)));
        }
        if (records.Count == 0)
            throw new EngineException("None of the files gave any usable text, so there is nothing to train on. See the problems listed for each file.");

        var task = settings.Task
            ?? (records.Any(r => r.Record.Prompt is not null && r.Record.Response is not null) ? DatasetTask.QuestionAnswer
                : records.Any(r => r.Record.Label is not null) ? DatasetTask.Classification
                : DatasetTask.Text);
        if (task == DatasetTask.Classification && !records.Any(r => r.Record.Label is not null))
            throw new EngineException("Sorting and routing needs labelled examples, but no file has a label column. Upload a CSV or JSONL file and pick its text and label columns.");
        if (task == DatasetTask.QuestionAnswer && !records.Any(r => r.Record.Prompt is not null && r.Record.Response is not null))
            throw new EngineException("Answering questions needs question → answer pairs, but no file has them. Upload a CSV or JSONL file and pick its question and answer columns.");

        // Redaction comes first so that records differing only in a name or number also count as duplicates.
        var findings = new List<RedactionFinding>();
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int findingsTotal = 0;
        if (settings.RedactPersonalData)
        {
            var redactor = new Redactor(settings.PhoneRegions is { } regions ? new RedactorOptions { PhoneRegions = regions } : null);
            for (int i = 0; i < records.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (i % 1000 == 0) progress?.Report(new DataProgress("redact", i, records.Count, records[i].File));
                var (file, r) = records[i];
                var display = SafeFileName.ForDisplay(file);
                var found = new List<RedactionFinding>();
                string Clean(string s) { var res = redactor.Redact(s, display, r.Line); found.AddRange(res.Findings); return res.Text; }
                // Text of a question-answer record is prompt + response: redact the parts and rebuild it, so each finding counts once.
                var redacted = r.Messages is { } turns ? RebuildConversation(r, [.. turns.Select(m => m with { Content = Clean(m.Content) })])
                    : r.Prompt is not null && r.Response is not null && r.Text == $"{r.Prompt}\n{r.Response}"
                    ? RebuildQa(r, Clean(r.Prompt), Clean(r.Response))
                    : r with { Text = Clean(r.Text), Prompt = r.Prompt is null ? null : Clean(r.Prompt), Response = r.Response is null ? null : Clean(r.Response) };
                if (found.Count == 0) continue;
                records[i] = new SourcedRecord(file, redacted);
                findingsTotal += found.Count;
                foreach (var f in found)
                {
                    counts[f.Kind.ToString()] = counts.GetValueOrDefault(f.Kind.ToString()) + 1;
                    if (findings.Count < MaxFindingsListed) findings.Add(f);
                }
            }
            progress?.Report(new DataProgress("redact", records.Count, records.Count));
        }

        DeduplicationResult dedup = new(records, 0, 0, []);
        if (settings.RemoveDuplicates)
        {
            progress?.Report(new DataProgress("deduplicate", 0, records.Count));
            dedup = Deduplicator.Deduplicate(records, new DeduplicationOptions
            {
                NearThreshold = settings.NearDuplicateThreshold,
                RemoveNearIds = settings.RemoveNearDuplicates is { Count: > 0 } ids ? ids.ToHashSet(StringComparer.Ordinal) : new HashSet<string>(),
            }, ct);
            progress?.Report(new DataProgress("deduplicate", records.Count, records.Count));
        }

        var final = dedup.Kept;
        if (task != DatasetTask.Text)
        {
            var missing = final.Count(r => task == DatasetTask.Classification ? r.Record.Label is null : r.Record.Prompt is null);
            if (missing > 0)
                problems.Add(new DataProblem("(all files)", null, ProblemSeverity.Info,
                    $"{missing} records (from documents without {(task == DatasetTask.Classification ? "labels" : "question and answer columns")}) are used as plain text only.",
                    "Nothing to do if that is what you want."));
        }
        return new PreparationReview(task, final, sources, problems, DocumentStats.Of([.. final.Select(r => r.Record)]),
            dedup.ExactRemoved, dedup.NearRemoved, dedup.Examples, counts, findings, findingsTotal) { NearPairs = dedup.NearPairs };
    }

    private static TextRecord RebuildQa(TextRecord r, string prompt, string response) =>
        r with { Prompt = prompt, Response = response, Text = $"{prompt}\n{response}" };

    /// <summary>A conversation record with its messages redacted: prompt, response and text follow from them again.</summary>
    private static TextRecord RebuildConversation(TextRecord r, IReadOnlyList<Tokenization.ChatMessage> messages) => r with
    {
        Messages = messages,
        Prompt = messages.FirstOrDefault(m => m.Role == "user" && m.Content.Length > 0)?.Content ?? r.Prompt,
        Response = messages.LastOrDefault(m => m.Role == "assistant" && m.Content.Length > 0)?.Content ?? r.Response,
        Text = string.Join("\n", messages.Select(m => m.Content).Where(c => c.Length > 0)),
    };

    /// <summary>Prepares and freezes the documents as a dataset version under <paramref name="datasetsRoot"/>.</summary>
    public static DatasetVersion Build(IReadOnlyList<ExtractedDocument> docs, DatasetSettings settings, string datasetsRoot,
        IProgress<DataProgress>? progress = null, CancellationToken ct = default, TimeProvider? clock = null) =>
        Freeze(Review(docs, settings, progress, ct), settings, datasetsRoot, progress, ct, clock);

    /// <summary>Freezes an already reviewed preparation (what the user saw is exactly what is written).</summary>
    /// <param name="clock">Stamps <see cref="DatasetVersion.CreatedAt"/>; the system clock unless a test sets one.</param>
    /// <param name="writeDerivedFiles">
    /// Writes files made from the same review into the folder being frozen (the search passages and index:
    /// <c>Retrieval.DatasetSearch.Freeze</c> passes it, so that this folder does not depend on the search code) and
    /// returns those to record in <c>dataset.json</c>. They are hashed with the others but are not part of the id.
    /// </param>
    public static DatasetVersion Freeze(PreparationReview review, DatasetSettings settings, string datasetsRoot,
        IProgress<DataProgress>? progress = null, CancellationToken ct = default, TimeProvider? clock = null,
        Func<string, CancellationToken, IReadOnlyList<DatasetFile>>? writeDerivedFiles = null)
    {
        if (settings.ValidationFraction is < 0 or >= 1)
            throw new EngineException("The validation share must be at least 0 and less than 1 (for example 0.1 for 10%).");
        var (train, validation) = Split(review, settings);

        Directory.CreateDirectory(datasetsRoot);
        var temp = Path.Combine(datasetsRoot, $".building-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            progress?.Report(new DataProgress("write", 0, 2));
            var files = new List<DatasetFile>
            {
                WriteText(Path.Combine(temp, "train.txt"), train, ct),
                WriteText(Path.Combine(temp, "val.txt"), validation, ct),
            };
            if (review.Task != DatasetTask.Text)
            {
                files.Add(WriteJsonl(Path.Combine(temp, "train.jsonl"), train, review.Task, ct));
                files.Add(WriteJsonl(Path.Combine(temp, "val.jsonl"), validation, review.Task, ct));
            }
            progress?.Report(new DataProgress("write", 1, 2));

            // The id covers what the trainer reads and what it was made from, not when: the same input and settings
            // give the same id, so a rebuild finds the existing folder instead of writing a second copy.
            var sources = review.Sources.OrderBy(s => s.Sha256, StringComparer.Ordinal).ThenBy(s => s.OriginalName, StringComparer.Ordinal).ToList();
            var identity = JsonSerializer.Serialize(new { files, sources, settings, task = review.Task }, DatasetVersion.Json);
            var contentHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));
            var id = contentHash[..16];
            var problems = review.Problems.ToList();
            if (validation.Count == 0)
                problems.Add(new DataProblem("(all files)", null, ProblemSeverity.Warning,
                    settings.ValidationFraction > 0
                        ? "There is too little text to hold some back for validation, so training cannot measure how well the model does."
                        : "No text was held back for validation (the validation share is 0), so training cannot measure how well the model does.",
                    "Add more documents, or set a validation share such as 10%."));
            var version = new DatasetVersion(id, contentHash, (clock ?? TimeProvider.System).GetUtcNow(), review.Task, review.Sources, settings, review.Stats,
                DocumentStats.Of([.. train.Select(r => r.Record)]), DocumentStats.Of([.. validation.Select(r => r.Record)]),
                review.ExactDuplicatesRemoved, review.NearDuplicatesRemoved, review.RedactionCounts, files, problems);

            var finalFolder = Path.Combine(datasetsRoot, id);
            if (Directory.Exists(finalFolder)) return DatasetVersion.Load(finalFolder);
            // Derived files stay out of the id: they are another view of the same records, and a change in how they
            // are made must not turn the same training data into a new dataset version.
            if (writeDerivedFiles is not null) version = version with { Files = [.. files, .. writeDerivedFiles(temp, ct)] };
            File.WriteAllText(Path.Combine(temp, DatasetVersion.ManifestName), JsonSerializer.Serialize(version, DatasetVersion.Json));
            try
            {
                Directory.Move(temp, finalFolder);
            }
            catch (IOException) when (Directory.Exists(finalFolder))
            {
                // Another build of the same content won the race; its folder is identical.
                return DatasetVersion.Load(finalFolder);
            }
            progress?.Report(new DataProgress("write", 2, 2));
            return version with { Folder = Path.GetFullPath(finalFolder) };
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// Seeded, stratified split: every stratum (source file, or label for classification) gives its share of records to
    /// validation, so a small file or a rare label is not left out of one side by chance.
    /// </summary>
    public static (List<SourcedRecord> Train, List<SourcedRecord> Validation) Split(PreparationReview review, DatasetSettings settings)
    {
        var records = review.Records;
        var byLabel = settings.StratifyBy == SplitStrategy.Label || (settings.StratifyBy == SplitStrategy.Auto && review.Task == DatasetTask.Classification);
        var strata = Enumerable.Range(0, records.Count)
            .GroupBy(i => byLabel ? records[i].Record.Label ?? "" : records[i].File)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        var random = new Random(settings.Seed);
        var toValidation = new HashSet<int>();
        var fraction = settings.ValidationFraction;
        double carry = 0;
        foreach (var stratum in strata)
        {
            var indices = stratum.ToArray();
            random.Shuffle(indices);
            // Carrying the rounding remainder across strata keeps the total close to the requested share even when
            // every stratum is small.
            var exact = indices.Length * fraction + carry;
            var take = (int)Math.Floor(exact + 1e-9);
            if (indices.Length > 1) take = Math.Min(take, indices.Length - 1);
            carry = exact - take;
            foreach (var i in indices.Take(take)) toValidation.Add(i);
        }
        // A validation set is needed to measure anything: take one record if rounding left none.
        if (fraction > 0 && toValidation.Count == 0 && records.Count >= 2)
            toValidation.Add(strata.OrderByDescending(s => s.Count()).First().ElementAt(0));
        var train = new List<SourcedRecord>();
        var validation = new List<SourcedRecord>();
        for (int i = 0; i < records.Count; i++) (toValidation.Contains(i) ? validation : train).Add(records[i]);
        return (train, validation);
    }

    private static readonly Regex BlankLines = new(@"\n[ \t]*\n(?:[ \t]*\n)*", RegexOptions.Compiled);

    private static DatasetFile WriteText(string path, List<SourcedRecord> records, CancellationToken ct)
    {
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false)))
        {
            writer.NewLine = "\n";
            bool first = true;
            foreach (var r in records)
            {
                ct.ThrowIfCancellationRequested();
                if (!first) writer.Write("\n\n");
                // A blank line separates records, so a record must not contain one itself.
                writer.Write(BlankLines.Replace(r.Record.Text.Trim(), "\n"));
                first = false;
            }
            if (!first) writer.Write('\n');
        }
        var (hash, size) = DocumentExtractor.HashFile(path);
        return new DatasetFile(Path.GetFileName(path), hash, size);
    }

    private static DatasetFile WriteJsonl(string path, List<SourcedRecord> records, DatasetTask task, CancellationToken ct)
    {
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false)))
        {
            writer.NewLine = "\n";
            foreach (var r in records)
            {
                ct.ThrowIfCancellationRequested();
                var line = task switch
                {
                    DatasetTask.Classification when r.Record.Label is not null => JsonSerializer.Serialize(new { text = r.Record.Text, label = r.Record.Label }),
                    // A context text or several turns are kept whole, in the common "messages" form the chat engine reads.
                    DatasetTask.QuestionAnswer when r.Record.Messages is { Count: > 0 } messages =>
                        JsonSerializer.Serialize(new { messages = messages.Select(m => new { role = m.Role, content = m.Content }) }),
                    DatasetTask.QuestionAnswer when r.Record.Prompt is not null && r.Record.Response is not null =>
                        JsonSerializer.Serialize(new { prompt = r.Record.Prompt, response = r.Record.Response }),
                    _ => null,
                };
                if (line is not null) writer.WriteLine(line);
            }
        }
        var (hash, size) = DocumentExtractor.HashFile(path);
        return new DatasetFile(Path.GetFileName(path), hash, size);
    }
}
