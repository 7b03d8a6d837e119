using System.Text.Json;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

public sealed class DatasetBuilderTests
{
    private static ExtractedDocument Doc(string name, params TextRecord[] records) =>
        new(name, DocumentKind.Text, records, [], DocumentStats.Of(records)) { SourceSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name + string.Join("|", records.Select(r => r.Text))))), SourceBytes = 10 };

    private static readonly string[] Vocabulary = [.. Enumerable.Range(0, 500).Select(i => $"word{i}")];

    /// <summary>Distinct paragraphs: seeded random words, so no two are near duplicates by accident.</summary>
    private static TextRecord[] Paragraphs(string prefix, int n)
    {
        var random = new Random(prefix.Sum(c => c));
        return [.. Enumerable.Range(1, n).Select(i => new TextRecord($"{prefix} {string.Join(' ', Enumerable.Range(0, 15).Select(_ => Vocabulary[random.Next(Vocabulary.Length)]))}.", i))];
    }

    [Fact]
    public void ExactAndNearDuplicatesAreRemovedWithExamples()
    {
        var records = new List<SourcedRecord>
        {
            new("a.txt", new TextRecord("The quick brown fox jumps over the lazy dog near the river bank today, while the farmer watches from his old red tractor.", 1)),
            new("b.txt", new TextRecord("the quick brown fox   jumps over the lazy dog, near the river bank today; while the farmer watches from his old red tractor!", 4)),
            new("b.txt", new TextRecord("The quick brown fox jumps over the lazy dog near the river bank today, while the farmer watches from his old red tracter.", 9)),
            new("c.txt", new TextRecord("A completely different paragraph about quarterly revenue and the bank's costs.", 2)),
            new("c.txt", new TextRecord("Yes.", 3)),
            new("c.txt", new TextRecord("Yes!", 5)),
            new("c.txt", new TextRecord("No.", 6)),
        };
        // By default near duplicates are only reported; removing them is the user's choice (issue 12).
        Assert.Equal(0, Deduplicator.Deduplicate(records).NearRemoved);
        Assert.Single(Deduplicator.Deduplicate(records).NearPairs);
        var result = Deduplicator.Deduplicate(records, new DeduplicationOptions { RemoveAllNear = true });
        Assert.Equal(2, result.ExactRemoved);   // punctuation/case/space variant, and "Yes!"
        Assert.Equal(1, result.NearRemoved);    // the typo "tracter"
        Assert.Equal(["a.txt", "c.txt", "c.txt", "c.txt"], result.Kept.Select(k => k.File));
        var near = Assert.Single(result.Examples, e => !e.Exact);
        Assert.Equal(("b.txt", (int?)9, "a.txt", (int?)1), (near.RemovedFile, near.RemovedLine, near.KeptFile, near.KeptLine));
        Assert.InRange(near.Similarity, 0.6, 0.99);

        // With near matching off only exact copies go.
        Assert.Empty(Deduplicator.Deduplicate(records, new DeduplicationOptions { NearThreshold = 1.0, RemoveAllNear = true }).NearPairs);
    }

    [Fact]
    public void DeduplicationFindsExactCopiesInALargeSet()
    {
        var random = new Random(5);
        var words = Enumerable.Range(0, 2000).Select(i => $"w{i}").ToArray();
        var records = Enumerable.Range(0, 20_000)
            .Select(i => new SourcedRecord("big.txt", new TextRecord(string.Join(' ', Enumerable.Range(0, 30).Select(_ => words[random.Next(words.Length)])), i)))
            .ToList();
        records.AddRange(records.Take(500).ToList());
        var result = Deduplicator.Deduplicate(records);
        Assert.Equal(500, result.ExactRemoved);
    }

    [Fact]
    public void FreezesAnImmutableHashedFolderWithTheTrainerLayout()
    {
        using var dir = new TempFolder();
        var docs = new[]
        {
            Doc("handbook.txt", [.. Paragraphs("Handbook", 40), new TextRecord("Questions? Write to hr@example.com or call +49 30 12345678.", 41)]),
            Doc("faq.md", [.. Paragraphs("FAQ", 20), Paragraphs("Handbook", 1)[0]]),
        };
        var progress = new List<DataProgress>();
        var clock = new SteppingClock(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero));
        var version = DatasetBuilder.Build(docs, new DatasetSettings(), dir.Path, new SyncProgress(progress.Add), CancellationToken.None, clock);
        Assert.Equal(clock.Start, version.CreatedAt);

        Assert.Equal(Path.Combine(dir.Path, version.Id), version.Folder);
        Assert.Matches("^[0-9a-f]{16}$", version.Id);
        Assert.StartsWith(version.Id, version.ContentSha256);
        Assert.Equal(["dataset.json", "train.txt", "val.txt"], Directory.GetFiles(version.Folder).Select(Path.GetFileName).Order());
        Assert.DoesNotContain(Directory.GetDirectories(dir.Path), d => Path.GetFileName(d).StartsWith('.'));

        var train = File.ReadAllText(Path.Combine(version.Folder, "train.txt"));
        var val = File.ReadAllText(Path.Combine(version.Folder, "val.txt"));
        var trainRecords = train.TrimEnd('\n').Split("\n\n");
        var valRecords = val.TrimEnd('\n').Split("\n\n");
        Assert.Equal(61, trainRecords.Length + valRecords.Length);    // 62 records, one exact duplicate
        Assert.Equal(6, valRecords.Length);                             // 10% of 61, by file: 4 of 41 and 2 of 20
        Assert.Contains("Questions? Write to [EMAIL] or call [PHONE].", train + val);
        Assert.DoesNotContain("hr@example.com", train + val);

        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(version.Folder, "dataset.json"))).RootElement;
        Assert.Equal(version.Id, json.GetProperty("id").GetString());
        Assert.Equal(2, json.GetProperty("sources").GetArrayLength());
        Assert.Equal("handbook.txt", json.GetProperty("sources")[0].GetProperty("originalName").GetString());
        Assert.Equal(64, json.GetProperty("sources")[0].GetProperty("sha256").GetString()!.Length);
        Assert.True(json.GetProperty("settings").GetProperty("redactPersonalData").GetBoolean());
        Assert.Equal(1234, json.GetProperty("settings").GetProperty("seed").GetInt32());
        Assert.Equal(1, json.GetProperty("exactDuplicatesRemoved").GetInt32());
        Assert.Equal(1, json.GetProperty("redactionCounts").GetProperty("Email").GetInt32());
        Assert.Equal(1, json.GetProperty("redactionCounts").GetProperty("Phone").GetInt32());
        Assert.Equal(55, json.GetProperty("train").GetProperty("records").GetInt32());
        Assert.True(json.TryGetProperty("createdAt", out _));

        var loaded = DatasetVersion.Load(version.Folder);
        Assert.Equal(version.Id, loaded.Id);
        Assert.True(loaded.Verify());
        Assert.Contains(progress, p => p.Stage == "redact");
        Assert.Contains(progress, p => p.Stage == "write");

        // The same content again gives the same id and leaves the folder untouched.
        // The clock has moved on, so a rewritten dataset.json would carry a later createdAt.
        var manifest = File.ReadAllBytes(Path.Combine(version.Folder, "dataset.json"));
        var again = DatasetBuilder.Build(docs, new DatasetSettings(), dir.Path, null, CancellationToken.None, clock);
        Assert.Equal(version.Id, again.Id);
        Assert.Equal(version.CreatedAt, again.CreatedAt);
        Assert.True(clock.Calls >= 2, "the second build did not read the clock, so the check above proves nothing");
        Assert.Equal(manifest, File.ReadAllBytes(Path.Combine(version.Folder, "dataset.json")));
        Assert.Single(Directory.GetDirectories(dir.Path));

        // Different settings are a different version; tampering is detected.
        var kept = DatasetBuilder.Build(docs, new DatasetSettings { RedactPersonalData = false, RemoveDuplicates = false }, dir.Path, null, CancellationToken.None);
        Assert.NotEqual(version.Id, kept.Id);
        Assert.Contains("hr@example.com", File.ReadAllText(Path.Combine(kept.Folder, "train.txt")) + File.ReadAllText(Path.Combine(kept.Folder, "val.txt")));
        Assert.Equal(62, kept.Total.Records);
        File.AppendAllText(Path.Combine(kept.Folder, "train.txt"), "tampered");
        Assert.False(DatasetVersion.Load(kept.Folder).Verify());
    }

    [Fact]
    public void SplitIsSeededAndStratifiedByLabel()
    {
        var records = new List<TextRecord>();
        for (int i = 0; i < 90; i++) records.Add(new TextRecord($"Common ticket {i} about a card payment that failed at the shop.", i + 2, "cards"));
        for (int i = 0; i < 10; i++) records.Add(new TextRecord($"Rare ticket {i} about a mortgage question for the house.", i + 100, "mortgage"));
        var doc = new ExtractedDocument("tickets.csv", DocumentKind.Csv, records, [], DocumentStats.Of(records)) { SourceSha256 = new string('a', 64), SourceBytes = 1 };
        var settings = new DatasetSettings { RemoveDuplicates = false, ValidationFraction = 0.2, Seed = 7 };
        var review = DatasetBuilder.Review([doc], settings);
        Assert.Equal(DatasetTask.Classification, review.Task);
        var (train, val) = DatasetBuilder.Split(review, settings);
        Assert.Equal(18, val.Count(r => r.Record.Label == "cards"));
        Assert.Equal(2, val.Count(r => r.Record.Label == "mortgage"));
        Assert.Equal(80, train.Count);

        var (_, sameSeed) = DatasetBuilder.Split(review, settings);
        Assert.Equal(val.Select(r => r.Record.Line), sameSeed.Select(r => r.Record.Line));
        var (_, otherSeed) = DatasetBuilder.Split(review, settings with { Seed = 8 });
        Assert.NotEqual(val.Select(r => r.Record.Line), otherSeed.Select(r => r.Record.Line));

        using var dir = new TempFolder();
        var version = DatasetBuilder.Build([doc], settings, dir.Path, null, CancellationToken.None);
        Assert.Equal(new Dictionary<string, int> { ["cards"] = 18, ["mortgage"] = 2 }, version.Validation.LabelCounts);
        var lines = File.ReadAllLines(Path.Combine(version.Folder, "val.jsonl"));
        Assert.Equal(20, lines.Length);
        Assert.Equal("mortgage", JsonDocument.Parse(lines.Last()).RootElement.GetProperty("label").GetString());
    }

    [Fact]
    public void QuestionAnswerDataGetsJsonlAndRedactsEachPartOnce()
    {
        var records = Enumerable.Range(0, 10).Select(i => new TextRecord($"Question {i}: how do I reach support?\nAnswer {i}: mail help{i}@example.com", i + 1,
            Prompt: $"Question {i}: how do I reach support?", Response: $"Answer {i}: mail help{i}@example.com")).ToArray();
        using var dir = new TempFolder();
        var review = DatasetBuilder.Review([Doc("qa.jsonl", records)], new DatasetSettings());
        Assert.Equal(DatasetTask.QuestionAnswer, review.Task);
        Assert.Equal(10, review.RedactionFindingsTotal);
        Assert.All(review.RedactionFindings, f => Assert.Equal("qa.jsonl", f.File));
        var version = DatasetBuilder.Freeze(review, new DatasetSettings(), dir.Path);
        var row = JsonDocument.Parse(File.ReadLines(Path.Combine(version.Folder, "train.jsonl")).First()).RootElement;
        Assert.EndsWith("mail [EMAIL]", row.GetProperty("response").GetString());
        Assert.StartsWith("Question", row.GetProperty("prompt").GetString());
    }

    [Fact]
    public void SameFileTwiceIsUsedOnceAndBadFilesAreListedNotFatal()
    {
        var a = Doc("report.txt", Paragraphs("Report", 5));
        var copy = a with { OriginalName = "report (1).txt" };
        var broken = ExtractedDocument.Failed("scan.pdf", DocumentKind.Pdf, new DataProblem("scan.pdf", null, ProblemSeverity.Error, "only scanned images", "OCR"));
        var review = DatasetBuilder.Review([a, copy, broken], new DatasetSettings());
        Assert.Single(review.Sources);
        Assert.Equal(5, review.Records.Count);
        Assert.Contains(review.Problems, p => p.File == "report (1).txt" && p.Message.Contains("same as 'report.txt'"));
        Assert.Contains(review.Problems, p => p.File == "scan.pdf");

        var ex = Assert.Throws<EngineException>(() => DatasetBuilder.Review([broken], new DatasetSettings()));
        Assert.Contains("None of the files gave any usable text", ex.Message);
    }

    [Fact]
    public void ChosenTaskMustMatchTheData()
    {
        var doc = Doc("notes.txt", Paragraphs("Notes", 5));
        Assert.Contains("needs labelled examples", Assert.Throws<EngineException>(() => DatasetBuilder.Review([doc], new DatasetSettings { Task = DatasetTask.Classification })).Message);
        Assert.Contains("question → answer pairs", Assert.Throws<EngineException>(() => DatasetBuilder.Review([doc], new DatasetSettings { Task = DatasetTask.QuestionAnswer })).Message);
        var labelled = Doc("t.csv", new TextRecord("Card blocked at the shop today, please help me now", 2, "cards"));
        Assert.Equal(DatasetTask.Text, DatasetBuilder.Review([labelled], new DatasetSettings { Task = DatasetTask.Text }).Task);
    }

    [Fact]
    public void TooLittleTextForValidationIsSaid()
    {
        using var dir = new TempFolder();
        var version = DatasetBuilder.Build([Doc("one.txt", Paragraphs("One", 1))], new DatasetSettings(), dir.Path, null, CancellationToken.None);
        Assert.Equal(0, version.Validation.Records);
        Assert.Contains(version.Problems, p => p.Message.Contains("too little text to hold some back for validation"));
        Assert.Equal("", File.ReadAllText(Path.Combine(version.Folder, "val.txt")));
    }

    [Fact]
    public void CancelledBuildLeavesNothingBehind()
    {
        using var dir = new TempFolder();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => DatasetBuilder.Build([Doc("a.txt", Paragraphs("A", 50))], new DatasetSettings(), dir.Path, null, cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    private sealed class SyncProgress(Action<DataProgress> report) : IProgress<DataProgress>
    {
        public void Report(DataProgress value) => report(value);
    }
}

/// <summary>A clock that moves one minute forward each time it is read, so two builds never share a time stamp.</summary>
internal sealed class SteppingClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Start { get; } = start;
    public int Calls { get; private set; }

    public override DateTimeOffset GetUtcNow() => Start.AddMinutes(Calls++);
}
