using System.CommandLine;
using System.Globalization;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Retrieval;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

/// <summary>Searches a dataset version's documents, and with a model writes an answer that cites them, as the playground's "Ask our documents" does.</summary>
public sealed class AskCommand : SlmCommand
{
    private const int DefaultTop = 5;

    private readonly Argument<string?> _version = OptionalArgument("dataset version folder", "the folder made by 'slm prepare' (<out>/<id>)");
    private readonly Option<string?> _question = Text("--question", "text", "what to ask the documents");
    private readonly Option<string?> _questions = Text("--questions", "file", "a question set to score instead: one goal test per line, 'question -> file / section / must contain' or JSON {question, file, section, contains}");
    private readonly Option<bool> _semantic = Flag("--semantic", "also search by meaning with --model's hidden states, fused with the keyword search (reciprocal rank fusion)");
    private readonly Option<int?> _top = Int("--top", "N", $"most passages to show (default {DefaultTop})", 1, 100);
    private readonly Option<string?> _model = Text("--model", "artifact folder", "a model made by 'slm export' that writes an answer from the passages");
    private readonly Option<int?> _maxTokens = Int("--max-tokens", "N", $"most tokens of the written answer (default {DocumentAnswerer.DefaultMaxNewTokens})", 1, 4096);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public AskCommand() : base("ask", "Ask a dataset version's documents: the best passages with their sources, and an answer with --model", """
        Searches the passages of the dataset version (its search-index folder; rebuilt from passages.jsonl when it is
        missing or damaged) and prints the best ones with their source (file, heading, page or row) and the matching
        words marked «like this». When no passage matches the question well enough, it says so instead of showing
        weak matches. With --model, the model writes an answer from those passages (greedy decoding), citing them as
        [1][2]; a model that was not trained to follow instructions writes poor answers.

        With --json: one object with "passages" (each with number, id, file, heading, page or row when known, line,
        text, score, coverage and matches: offsets of the question's words in the text), "message" when nothing
        matched, and with --model "answer", "citations" (passage numbers cited), "unknownCitations", "notAnswered"
        and "passagesReadByModel".
        With --questions instead of --question: scores a question set and prints recall at 1, 3 and 5 (the share of
        questions with a passage from the expected file and section, holding the expected words, among the first k);
        with --model also the share of written answers that contain the expected words and cite a right passage; with
        --semantic the keyword search alone and the combined search side by side. --json gives "questions",
        "keyword" (recallAt1/3/5), "hybrid" (with --semantic), "answers" (with --model: containsExpected,
        containsScored, citesRightPassage) and "perQuestion".

        --semantic (needs --model) turns the passages into vectors with the model (its mean hidden state; kept in the
        dataset version's semantic-index folder, made on first use) and fuses the nearest ones with the keyword results.
        It is off by default: it only helps with a model that knows the documents' language well.
        Exit codes: 0 answered (also when nothing matched), 1 the folder cannot be searched, 2 wrong arguments.
        """)
    {
        Arguments.Add(_version);
        foreach (var option in new Option[] { _question, _questions, _top, _model, _semantic, _maxTokens, _json })
            Options.Add(option);
    }

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var folder = parsed.GetValue(_version) ?? throw new UsageException("Give the dataset version folder (made by 'slm prepare').");
        var question = parsed.GetValue(_question);
        var questionsFile = parsed.GetValue(_questions);
        if (question is null && questionsFile is null)
            throw new UsageException("Give --question \"...\" to ask the documents, or --questions <file> to score a question set.");
        if (question is not null && questionsFile is not null)
            throw new UsageException("Give either --question or --questions, not both.");
        if (question is not null && string.IsNullOrWhiteSpace(question)) throw new UsageException("--question is empty: write what you want to know.");
        var top = parsed.GetValue(_top) ?? DefaultTop;
        var modelFolder = parsed.GetValue(_model);
        var semantic = parsed.GetValue(_semantic);
        if (semantic && modelFolder is null)
            throw new UsageException("--semantic searches with a model's understanding of the words: give the model with --model.");
        var maxTokens = parsed.GetValue(_maxTokens) ?? DocumentAnswerer.DefaultMaxNewTokens;
        var json = parsed.GetValue(_json);
        if (!Directory.Exists(folder)) throw new EngineException($"The dataset version folder '{folder}' does not exist.");
        var questions = questionsFile is null ? null : RetrievalQuestionFile.Read(questionsFile);

        // The model is opened first so that a wrong artifact folder is reported before any search work.
        using var artifact = modelFolder is null ? null : OnnxArtifact.Open(modelFolder);
        using var encoder = semantic ? PassageEncoder.Open(modelFolder!) : null;
        var rebuilding = new IndexProgressPrinter("search index");
        using var index = DatasetSearch.Open(folder, rebuilding, cancellationToken);
        var vectors = encoder is null ? null
            : SemanticIndex.OpenOrBuild(index, encoder, DatasetSearch.SemanticFolder(Path.GetFullPath(folder), encoder.ModelKey),
                new IndexProgressPrinter("passage vectors"), cancellationToken);
        RetrievalSearch keyword = (q, k) => index.Search(q, k);
        RetrievalSearch? hybrid = vectors is null ? null : (q, k) => HybridSearch.Search(index, vectors, encoder!, q, k);
        var search = hybrid ?? keyword;

        if (questions is not null)
            return await ScoreAsync(questions, keyword, hybrid, artifact, maxTokens, json, cancellationToken);

        var results = search(question!, top);
        WrittenAnswer? answer = null;
        if (artifact is not null && !results.NoGoodMatch)
            answer = await DocumentAnswerer.WriteAsync(new TextGenerator(artifact), question!, [.. results.Hits.Select(h => h.Passage)], maxTokens, cancellationToken);

        if (json) Console.WriteLine(AskResponse.From(results, answer).ToJson());
        else PrintText(results, answer, modelFolder);
        return 0;
    }

    private static async Task<int> ScoreAsync(IReadOnlyList<RetrievalQuestion> questions, RetrievalSearch keyword, RetrievalSearch? hybrid,
        OnnxArtifact? artifact, int maxTokens, bool json, CancellationToken ct)
    {
        var keywordRecall = RetrievalEvaluation.Evaluate(keyword, questions, ct: ct);
        var hybridRecall = hybrid is null ? null : RetrievalEvaluation.Evaluate(hybrid, questions, ct: ct);
        AnswerReport? answers = null;
        if (artifact is not null)
        {
            var generator = new TextGenerator(artifact);
            var done = 0;
            answers = await AnswerEvaluation.EvaluateAsync(hybrid ?? keyword, questions, async (q, passages, token) =>
            {
                var written = await DocumentAnswerer.WriteAsync(generator, q, passages, maxTokens, token);
                if (!json) Console.Error.WriteLine($"  answered {++done}/{questions.Count}");
                return written;
            }, ct: ct);
        }

        if (json)
        {
            static object Recall(RecallReport r) => new { recallAt1 = r.RecallAt(1), recallAt3 = r.RecallAt(3), recallAt5 = r.RecallAt(5) };
            var perQuestion = questions.Select((q, i) => new
            {
                question = q.Question,
                file = q.ExpectedFile,
                section = q.ExpectedHeading,
                contains = q.ExpectedText,
                rank = keywordRecall.Questions[i].Rank,
                hybridRank = hybridRecall?.Questions[i].Rank,
                answer = answers?.Answers[i].Answer,
                containsExpected = answers?.Answers[i].ContainsExpected,
                citesRightPassage = answers is null ? (bool?)null : answers.Answers[i].CitesRightPassage,
                citations = answers?.Answers[i].CitedNumbers,
            });
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                questions = questions.Count,
                keyword = Recall(keywordRecall),
                hybrid = hybridRecall is null ? null : Recall(hybridRecall),
                answers = answers is null ? null : new
                {
                    containsExpected = Math.Round(answers.ContainsExpectedRate, 4),
                    containsScored = answers.ContainsScored,
                    citesRightPassage = Math.Round(answers.CitesRightPassageRate, 4),
                },
                perQuestion,
            }, AskResponse.Json));
            return 0;
        }

        static string Line(RecallReport r) => string.Create(CultureInfo.InvariantCulture, $"recall@1 {r.RecallAt(1):0.00}, recall@3 {r.RecallAt(3):0.00}, recall@5 {r.RecallAt(5):0.00}");
        Console.WriteLine($"Questions: {questions.Count}");
        Console.WriteLine($"Keyword search (BM25):            {Line(keywordRecall)}");
        if (hybridRecall is not null) Console.WriteLine($"Keyword + semantic (fused, RRF): {Line(hybridRecall)}");
        if (answers is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Written answers: {answers.ContainsExpectedRate:0.00} contain the expected words ({answers.ContainsScored} questions name words), {answers.CitesRightPassageRate:0.00} cite a right passage"));
        }
        var missed = (hybridRecall ?? keywordRecall).Questions.Where(o => o.Rank is null).ToList();
        foreach (var o in missed)
            Console.WriteLine($"  not found in the first 5: {o.Question.Question} (expected {o.Question.ExpectedFile}{(o.Question.ExpectedHeading is { } h ? " / " + h : "")})");
        return 0;
    }

    private static void PrintText(SearchResults results, WrittenAnswer? answer, string? modelFolder)
    {
        if (results.NoGoodMatch)
        {
            Console.WriteLine(results.Message);
            return;
        }
        foreach (var hit in results.Hits)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{hit.Rank}] {hit.Passage.SourceLabel}  (score {hit.Score:0.00})"));
            Console.WriteLine($"    {hit.Snippet.Marked("«", "»")}");
        }
        if (answer is null) return;
        Console.WriteLine();
        Console.WriteLine($"Answer ({Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder!)))}, from passages 1-{answer.PassagesRead.Count}):");
        Console.WriteLine(answer.Text.Length > 0 ? answer.Text : "(the model wrote nothing)");
        foreach (var passage in answer.Citations.CitedPassages)
            Console.WriteLine($"  cites {passage.SourceLabel}");
        if (answer.Citations.UnknownNumbers.Count > 0)
            Console.WriteLine($"  cites passages that were not given: {string.Join(", ", answer.Citations.UnknownNumbers.Select(n => $"[{n}]"))}");
        if (answer.Citations.Citations.Count == 0 && !answer.SaysNotAnswered)
            Console.WriteLine("  (the answer cites no passage: check it against the passages above)");
    }

    /// <summary>Only an index that is being built again reports progress; a search of an intact index prints nothing here.</summary>
    private sealed class IndexProgressPrinter(string what) : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => Console.Error.WriteLine($"  {what}: {value.Done}/{value.Total} passages");
    }
}
