using System.Diagnostics;
using System.Text.Json;
using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;

namespace SlmStudio.Cli.Tests;

/// <summary>A small handbook prepared once with the real <c>slm prepare</c>; the ask tests search its dataset version.</summary>
public sealed class PreparedHandbook : IDisposable
{
    public const string Handbook = """
        # Employee Handbook

        Welcome to Northwind Traders. This handbook explains how we work together.

        ## Working hours

        Our core hours are 10:00 to 16:00, Monday to Friday. Full-time staff work 38 hours a week; overtime must be
        agreed with your manager beforehand.

        ## Annual leave

        Every full-time employee gets 28 days of paid holiday per calendar year. You may carry over up to 5 unused
        days into the next year.

        ## Second jobs and outside work

        Moonlighting, that is taking a second job or freelance work next to your job here, is allowed with written
        approval from HR. Work for a competitor is never approved.

        ## Equipment

        You receive a laptop and a phone on your first day. Report a lost device to the IT service desk within 24 hours.
        """;

    public const string Expenses = """
        Travel and Expenses

        Meals

        On a business trip the daily meal allowance is 45 euros. Keep the receipts.

        Mileage

        Using your own car for business travel is reimbursed at 30 cents per kilometre.
        """;

    public string Root { get; } = Directory.CreateTempSubdirectory("slm-ask-test-").FullName;
    public string VersionFolder { get; }
    public string PrepareOutput { get; }
    public string PrepareErrors { get; }

    public PreparedHandbook()
    {
        var docs = Directory.CreateDirectory(Path.Combine(Root, "docs")).FullName;
        File.WriteAllText(Path.Combine(docs, "handbook.md"), Handbook);
        File.WriteAllText(Path.Combine(docs, "expenses.txt"), Expenses);
        var (exit, stdout, stderr) = AskCommandTests.Slm("prepare", "--data", docs, "--out", Path.Combine(Root, "datasets"), "--isolate", "none");
        Assert.True(exit == 0, stderr);
        PrepareOutput = stdout;
        PrepareErrors = stderr;
        VersionFolder = stdout.Split('\n').Single(l => l.StartsWith("Folder:", StringComparison.Ordinal))["Folder:".Length..].Trim();
        _storiesArtifact = new Lazy<string>(() =>
        {
            var artifact = Path.Combine(Root, "stories-artifact");
            var (exportExit, _, exportErr) = AskCommandTests.Slm("export", Path.Combine(CliTestPaths.Fixtures, "stories260K-hf"), "--out", artifact);
            Assert.True(exportExit == 0, exportErr);
            return artifact;
        });
    }

    private readonly Lazy<string> _storiesArtifact;

    /// <summary>The real stories260K model exported once with <c>slm export</c>, for the tests that need a model.</summary>
    public string StoriesArtifact => _storiesArtifact.Value;

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary><c>slm ask</c> run as a child process, as scripts use it.</summary>
public sealed class AskCommandTests(PreparedHandbook handbook) : IClassFixture<PreparedHandbook>
{
    public static (int Exit, string Out, string Err) Slm(params string[] args)
    {
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "slm did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static JsonElement Json(string stdout) => JsonDocument.Parse(stdout).RootElement;

    [Fact]
    public void Prepare_freezes_the_passages_and_the_search_index_with_the_version()
    {
        Assert.Contains("  index: ", handbook.PrepareErrors);
        Assert.Matches(@"Search index:\s+\d+ passages", handbook.PrepareOutput);
        Assert.True(File.Exists(Path.Combine(handbook.VersionFolder, DatasetSearch.PassagesFileName)));
        Assert.True(SearchIndex.Verify(Path.Combine(handbook.VersionFolder, SearchIndex.DefaultFolderName)));
        var version = DatasetVersion.Load(handbook.VersionFolder);
        Assert.Contains(version.Files, f => f.Name == DatasetSearch.PassagesFileName);
        Assert.True(version.Verify());
    }

    [Fact]
    public void Json_gives_the_right_passage_first_with_its_source_and_no_answer_without_a_model()
    {
        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--question", "How do we handle moonlighting?", "--json");
        Assert.True(exit == 0, stderr);
        var json = Json(stdout);
        Assert.Equal("How do we handle moonlighting?", json.GetProperty("question").GetString());
        Assert.False(json.TryGetProperty("answer", out _));
        Assert.False(json.TryGetProperty("message", out _));
        var first = json.GetProperty("passages")[0];
        Assert.Equal(1, first.GetProperty("number").GetInt32());
        Assert.Equal("handbook.md", first.GetProperty("file").GetString());
        Assert.Equal("Employee Handbook › Second jobs and outside work", first.GetProperty("heading").GetString());
        var text = first.GetProperty("text").GetString()!;
        Assert.StartsWith("Moonlighting, that is taking a second job", text);
        Assert.True(first.GetProperty("score").GetDouble() > 0);
        Assert.False(first.TryGetProperty("page", out _));
        var match = first.GetProperty("matches")[0];
        Assert.Equal("Moonlighting", text.Substring(match.GetProperty("start").GetInt32(), match.GetProperty("length").GetInt32()));

        var (_, expenses, _) = Slm("ask", handbook.VersionFolder, "--question", "What is the daily meal allowance?", "--json", "--top", "1");
        var meals = Assert.Single(Json(expenses).GetProperty("passages").EnumerateArray());
        Assert.Equal("expenses.txt", meals.GetProperty("file").GetString());
        Assert.Contains("45 euros", meals.GetProperty("text").GetString());
    }

    [Fact]
    public void Text_lists_the_sources_with_the_matching_words_marked()
    {
        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--question", "How do we handle moonlighting?");
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("[1] handbook.md, Employee Handbook › Second jobs and outside work  (score ", stdout);
        Assert.Contains("«Moonlighting»", stdout);
    }

    [Fact]
    public void A_question_the_documents_do_not_answer_gets_no_passages_and_says_so()
    {
        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--question", "What is the capital of Peru?", "--json");
        Assert.True(exit == 0, stderr);
        var json = Json(stdout);
        Assert.Equal(0, json.GetProperty("passages").GetArrayLength());
        Assert.Equal(SearchResults.NoGoodMatchMessage, json.GetProperty("message").GetString());

        var (textExit, text, _) = Slm("ask", handbook.VersionFolder, "--question", "What is the capital of Peru?");
        Assert.Equal(0, textExit);
        Assert.Equal(SearchResults.NoGoodMatchMessage, text.Trim());
    }

    [Fact]
    public void A_model_writes_an_answer_whose_citations_are_parsed()
    {
        var artifact = handbook.StoriesArtifact;

        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--question", "How do we handle moonlighting?", "--model", artifact,
            "--max-tokens", "16", "--json");
        Assert.True(exit == 0, stderr);
        var json = Json(stdout);
        // A story model does not follow instructions: only the shape of its answer is checked.
        Assert.Equal(JsonValueKind.String, json.GetProperty("answer").ValueKind);
        var read = json.GetProperty("passagesReadByModel").GetInt32();
        Assert.InRange(read, 1, json.GetProperty("passages").GetArrayLength());
        Assert.All(json.GetProperty("citations").EnumerateArray(), n => Assert.InRange(n.GetInt32(), 1, read));
        Assert.Contains(json.GetProperty("notAnswered").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });

        // Nothing matched: the model is not asked.
        var (noneExit, none, _) = Slm("ask", handbook.VersionFolder, "--question", "What is the capital of Peru?", "--model", artifact, "--json");
        Assert.Equal(0, noneExit);
        Assert.False(Json(none).TryGetProperty("answer", out _));
    }

    private string QuestionFile()
    {
        var path = Path.Combine(handbook.Root, "questions.jsonl");
        File.WriteAllText(path, """
            # goal tests for the small handbook
            How do we handle moonlighting? -> handbook.md / Second jobs / written approval
            How many days of holiday do we get? -> handbook.md / Annual leave / 28 days
            {"question": "What is the daily meal allowance?", "file": "expenses.txt", "section": "Meals", "contains": "45 euros"}
            What if I lose my laptop? -> handbook.md / Equipment
            What is the capital of Peru? -> handbook.md / / Lima
            """);
        return path;
    }

    [Fact]
    public void A_question_set_is_scored_for_recall_at_one_three_and_five()
    {
        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--questions", QuestionFile(), "--json");
        Assert.True(exit == 0, stderr);
        var json = Json(stdout);
        Assert.Equal(5, json.GetProperty("questions").GetInt32());
        var keyword = json.GetProperty("keyword");
        // Four of five questions have their passage first; Peru has none at all.
        Assert.Equal(0.8, keyword.GetProperty("recallAt1").GetDouble(), 6);
        Assert.Equal(0.8, keyword.GetProperty("recallAt5").GetDouble(), 6);
        Assert.False(json.TryGetProperty("hybrid", out _));
        Assert.False(json.TryGetProperty("answers", out _));
        var perQuestion = json.GetProperty("perQuestion").EnumerateArray().ToList();
        Assert.Equal([1, 1, 1, 1], perQuestion.Take(4).Select(q => q.GetProperty("rank").GetInt32()));
        Assert.False(perQuestion[4].TryGetProperty("rank", out _));
        Assert.Equal("Meals", perQuestion[2].GetProperty("section").GetString());

        var (textExit, text, _) = Slm("ask", handbook.VersionFolder, "--questions", QuestionFile());
        Assert.Equal(0, textExit);
        Assert.Contains("Keyword search (BM25):            recall@1 0.80, recall@3 0.80, recall@5 0.80", text);
        Assert.Contains("not found in the first 5: What is the capital of Peru? (expected handbook.md)", text);
    }

    [Fact]
    public void With_a_real_model_the_written_answers_and_the_semantic_search_are_scored_too()
    {
        var (exit, stdout, stderr) = Slm("ask", handbook.VersionFolder, "--questions", QuestionFile(), "--model", handbook.StoriesArtifact,
            "--semantic", "--max-tokens", "8", "--json");
        Assert.True(exit == 0, stderr);
        var json = Json(stdout);
        foreach (var k in new[] { "recallAt1", "recallAt3", "recallAt5" })
            Assert.InRange(json.GetProperty("hybrid").GetProperty(k).GetDouble(), 0, 1);
        // The no-good-match rule stays: Peru is found by neither search and gets no answer.
        var perQuestion = json.GetProperty("perQuestion").EnumerateArray().ToList();
        Assert.False(perQuestion[4].TryGetProperty("hybridRank", out _));
        Assert.False(perQuestion[4].TryGetProperty("answer", out _));
        Assert.False(perQuestion[4].GetProperty("containsExpected").GetBoolean());
        // A story model writes stories: only that every answer was scored is checked, not how well it did.
        var answers = json.GetProperty("answers");
        Assert.Equal(4, answers.GetProperty("containsScored").GetInt32());
        Assert.InRange(answers.GetProperty("containsExpected").GetDouble(), 0, 1);
        Assert.InRange(answers.GetProperty("citesRightPassage").GetDouble(), 0, 1);
        Assert.All(perQuestion.Take(4), q =>
        {
            Assert.Equal(JsonValueKind.String, q.GetProperty("answer").ValueKind);
            Assert.Contains(q.GetProperty("citesRightPassage").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        });
        Assert.False(perQuestion[3].TryGetProperty("containsExpected", out _)); // the laptop question names no words
        // The passage vectors were made once, beside the keyword index.
        var vectors = Assert.Single(Directory.GetDirectories(Path.Combine(handbook.VersionFolder, "semantic-index")));
        Assert.True(File.Exists(Path.Combine(vectors, SemanticIndex.ManifestName)));

        var (oneExit, one, oneErr) = Slm("ask", handbook.VersionFolder, "--question", "How do we handle moonlighting?", "--model", handbook.StoriesArtifact,
            "--semantic", "--max-tokens", "8", "--json");
        Assert.True(oneExit == 0, oneErr);
        var passages = Json(one).GetProperty("passages").EnumerateArray().ToList();
        Assert.NotEmpty(passages);
        Assert.All(passages, p =>
        {
            Assert.False(string.IsNullOrEmpty(p.GetProperty("file").GetString()));
            Assert.False(string.IsNullOrEmpty(p.GetProperty("text").GetString()));
            Assert.True(p.GetProperty("score").GetDouble() > 0);
        });
        Assert.Contains(passages, p => p.TryGetProperty("heading", out var h) && h.GetString()!.Contains("Second jobs"));
    }

    [Fact]
    public void A_version_frozen_without_passages_asks_to_freeze_again()
    {
        var source = Path.Combine(handbook.Root, "old.txt");
        File.WriteAllText(source, "Moonlighting needs written approval from HR.\n\nHoliday is 28 days a year.\n");
        var doc = DocumentExtractor.Extract(source, "old.txt", null, DataLimits.Default, CancellationToken.None);
        // What an older SLM Studio froze: the training files only.
        var old = DatasetBuilder.Build([doc], new DatasetSettings(), Path.Combine(handbook.Root, "old-datasets"));

        var (exit, stdout, stderr) = Slm("ask", old.Folder, "--question", "moonlighting", "--json");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"error: {DatasetSearch.NoPassagesMessage}", stderr.Trim());
    }

    [Theory]
    [InlineData(new[] { "ask", "folder" }, "--question")]
    [InlineData(new[] { "ask", "--question", "hello" }, "Give the dataset version folder")]
    [InlineData(new[] { "ask", "folder", "--question", "hello", "--top", "0" }, "--top must be a whole number between 1 and 100")]
    [InlineData(new[] { "ask", "folder", "--question", "hello", "--questions", "q.txt" }, "either --question or --questions")]
    [InlineData(new[] { "ask", "folder", "--question", "hello", "--semantic" }, "give the model with --model")]
    public void Wrong_arguments_exit_with_2(string[] args, string expected)
    {
        var (exit, _, err) = Slm(args);
        Assert.Equal(2, exit);
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void A_folder_that_is_not_a_dataset_version_is_an_error_with_exit_1()
    {
        var (exit, _, err) = Slm("ask", Path.Combine(handbook.Root, "nothing-here"), "--question", "hello");
        Assert.Equal(1, exit);
        Assert.Contains("does not exist", err);
        var (docsExit, _, docsErr) = Slm("ask", Path.Combine(handbook.Root, "docs"), "--question", "hello");
        Assert.Equal(1, docsExit);
        Assert.Contains("is not a dataset version folder", docsErr);
    }
}

internal static class CliTestPaths
{
    /// <summary>../shared/fixtures beside the repository: the worktree's parent holds shared/.</summary>
    public static string Fixtures { get; } = FindFixtures();

    private static string FindFixtures()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SlmStudio.sln")))
                return Path.Combine(dir.Parent!.FullName, "shared", "fixtures");
        throw new InvalidOperationException("Cannot find SlmStudio.sln above the test output folder.");
    }
}
