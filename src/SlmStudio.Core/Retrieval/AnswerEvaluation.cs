using System.Text.Json;
using System.Text.RegularExpressions;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// How one written answer did on its goal test. <see cref="ContainsExpected"/> is null when the goal test names no
/// words to contain ("question -> file / section" only); <see cref="CitesRightPassage"/> is true when at least one
/// "[n]" names a passage from the expected file and section (the passage's own text is not required to hold the
/// words: the answer is what must hold them). A question with no good match gets no answer (the model is not asked),
/// which counts as neither containing nor citing.
/// </summary>
public sealed record AnswerOutcome(
    RetrievalQuestion Question,
    int? PassageRank,
    string? Answer,
    bool? ContainsExpected,
    bool CitesRightPassage,
    IReadOnlyList<int> CitedNumbers,
    IReadOnlyList<int> UnknownCitations,
    bool SaysNotAnswered);

/// <summary>Recall of the passages and, for written answers, the share that contain the expected words and cite a right passage.</summary>
public sealed record AnswerReport(RecallReport Recall, IReadOnlyList<AnswerOutcome> Answers)
{
    /// <summary>Questions whose goal test names words the answer must contain.</summary>
    public int ContainsScored => Answers.Count(a => a.ContainsExpected is not null);

    /// <summary>Of <see cref="ContainsScored"/>, the share whose answer contains every expected word; 0 when none is scored.</summary>
    public double ContainsExpectedRate => ContainsScored == 0 ? 0 : Answers.Count(a => a.ContainsExpected == true) / (double)ContainsScored;

    /// <summary>Of all questions, the share whose answer cites at least one passage from the expected file and section.</summary>
    public double CitesRightPassageRate => Answers.Count == 0 ? 0 : Answers.Count(a => a.CitesRightPassage) / (double)Answers.Count;

    public override string ToString() =>
        $"{Recall}; answers contain the expected words {ContainsExpectedRate:0.00} ({ContainsScored} scored), cite a right passage {CitesRightPassageRate:0.00}";
}

/// <summary>
/// Scores written answers against goal tests: the same search as <see cref="RetrievalEvaluation"/>, then one answer per
/// question from a writer (in the product, <see cref="DocumentAnswerer.WriteAsync"/> with a model), whose text and
/// citations are checked here. The writer is a parameter so that the scoring is the same whoever wrote the answer.
/// </summary>
public static partial class AnswerEvaluation
{
    /// <summary>Writes an answer for a question from the given passages (numbered from 1 in that order).</summary>
    public delegate Task<WrittenAnswer> AnswerWriter(string question, IReadOnlyList<Passage> passages, CancellationToken ct);

    /// <summary>
    /// Searches each question with <paramref name="search"/> (the first max(k) passages), has <paramref name="write"/>
    /// answer from them (not when nothing matched well enough), and scores recall and the answers.
    /// </summary>
    public static async Task<AnswerReport> EvaluateAsync(RetrievalSearch search, IEnumerable<RetrievalQuestion> questions, AnswerWriter write,
        int passagesForAnswer = 5, IReadOnlyList<int>? ks = null, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(passagesForAnswer, 1);
        var recall = RetrievalEvaluation.Evaluate(search, questions, ks, ct);
        var answers = new List<AnswerOutcome>();
        foreach (var outcome in recall.Questions)
        {
            ct.ThrowIfCancellationRequested();
            if (outcome.NoGoodMatch)
            {
                answers.Add(Unanswered(outcome));
                continue;
            }
            var passages = outcome.Hits.Take(passagesForAnswer).Select(h => h.Passage).ToList();
            var answer = await write(outcome.Question.Question, passages, ct).ConfigureAwait(false);
            answers.Add(Score(outcome.Question, answer, outcome.Rank));
        }
        return new AnswerReport(recall, answers);
    }

    /// <summary>Scores one answer: its text for the expected words, its citations (as parsed against the passages it was given) for the expected place.</summary>
    public static AnswerOutcome Score(RetrievalQuestion question, WrittenAnswer answer, int? passageRank = null)
    {
        var cited = answer.Citations.Citations.Where(c => c.Passage is not null).Select(c => c.Number).Distinct().ToList();
        return new AnswerOutcome(
            question,
            passageRank,
            answer.Text,
            question.ExpectedText is null ? null : ContainsWords(answer.Text, question.ExpectedText),
            answer.Citations.CitedPassages.Any(question.IsFromExpectedPlace),
            cited,
            answer.Citations.UnknownNumbers,
            answer.SaysNotAnswered);
    }

    /// <summary>An answer as text with the passages it was written from: parsed exactly as a model's answer is.</summary>
    public static WrittenAnswer Parse(string text, IReadOnlyList<Passage> passagesRead) =>
        new(text.Trim(), GroundedAnswer.ParseCitations(text, passagesRead), passagesRead, GroundedAnswer.SaysNotAnswered(text), "given", "");

    /// <summary>
    /// True when every word of <paramref name="expected"/> occurs in <paramref name="answer"/> as a word, ignoring
    /// case, punctuation and order ("28 days" is in "You get 28 paid days [1]."; "5" is not in "25").
    /// </summary>
    public static bool ContainsWords(string answer, string expected)
    {
        var have = Words(answer).ToHashSet(StringComparer.Ordinal);
        var want = Words(expected).ToList();
        return want.Count > 0 && want.All(have.Contains);
    }

    private static IEnumerable<string> Words(string text) =>
        WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value);

    private static AnswerOutcome Unanswered(QuestionOutcome outcome) =>
        new(outcome.Question, outcome.Rank, null, outcome.Question.ExpectedText is null ? null : false, false, [], [], false);

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:[.,:'’][\p{L}\p{N}]+)*")]
    private static partial Regex WordPattern();
}

/// <summary>
/// A goal test as a project keeps it: a question and the words a good answer must contain, without naming the file the
/// answer is in. A passage is right when its text contains every one of those words (<see cref="AnswerEvaluation.ContainsWords"/>:
/// ignoring case, punctuation and order), so the same rule judges the passages and the written answers.
/// </summary>
public sealed record WordGoal(string Question, string MustContain)
{
    public bool IsAnsweredBy(Passage passage) => AnswerEvaluation.ContainsWords(passage.Text, MustContain);
}

/// <summary>
/// How one word goal did: the rank (1-based) of the first passage containing the words, or null when none of the
/// first max(k) did; and, when answers were written, the answer and whether it contains the words and cites (by
/// "[n]") a passage that contains them. A question with no good match gets no answer, which fails.
/// </summary>
public sealed record WordGoalOutcome(
    WordGoal Goal,
    int? Rank,
    bool NoGoodMatch,
    IReadOnlyList<SearchHit> Hits,
    string? Answer,
    bool ContainsExpected,
    bool CitesRightPassage,
    bool SaysNotAnswered)
{
    public bool AnswerPasses => ContainsExpected && CitesRightPassage;
}

/// <summary>Recall at each k of a set of word goals and, when <see cref="AnswersWritten"/>, how the written answers did.</summary>
public sealed record WordGoalReport(IReadOnlyDictionary<int, double> RecallAtK, IReadOnlyList<WordGoalOutcome> Questions, bool AnswersWritten)
{
    public double RecallAt(int k) => RecallAtK.TryGetValue(k, out var r) ? r
        : throw new ArgumentOutOfRangeException(nameof(k), $"Recall at {k} was not measured (measured: {string.Join(", ", RecallAtK.Keys)}).");

    /// <summary>The share of questions whose answer contains every expected word; 0 when no answers were written.</summary>
    public double ContainsExpectedRate => Share(o => o.ContainsExpected);

    /// <summary>The share of questions whose answer cites at least one passage that contains the expected words.</summary>
    public double CitesRightPassageRate => Share(o => o.CitesRightPassage);

    /// <summary>The share of questions whose answer does both.</summary>
    public double AnswerPassRate => Share(o => o.AnswerPasses);

    private double Share(Func<WordGoalOutcome, bool> passed) =>
        !AnswersWritten || Questions.Count == 0 ? 0 : Questions.Count(passed) / (double)Questions.Count;

    public override string ToString() =>
        string.Join(", ", RecallAtK.OrderBy(kv => kv.Key).Select(kv => $"recall@{kv.Key} {kv.Value:0.00}")) + $" on {Questions.Count} questions"
        + (AnswersWritten ? $"; answers contain the expected words {ContainsExpectedRate:0.00}, cite a right passage {CitesRightPassageRate:0.00}" : "");
}

/// <summary>Where a goal check is: the question being worked on (1-based) of how many, and whether an answer is being written for it.</summary>
public readonly record struct WordGoalProgress(int Question, int Of, bool Writing);

public static partial class AnswerEvaluation
{
    /// <summary>
    /// Searches each word goal (the first max(k) passages, with the relevance rule users get), scores recall at each k
    /// by <see cref="WordGoal.IsAnsweredBy"/>, and with a <paramref name="write"/> has an answer written from the first
    /// <paramref name="passagesForAnswer"/> passages (not when nothing matched well enough) and scores it by the same rule.
    /// </summary>
    public static async Task<WordGoalReport> EvaluateWordGoalsAsync(RetrievalSearch search, IEnumerable<WordGoal> goals, AnswerWriter? write = null,
        int passagesForAnswer = 5, IReadOnlyList<int>? ks = null, IProgress<WordGoalProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(passagesForAnswer, 1);
        ks ??= RetrievalEvaluation.DefaultKs;
        if (ks.Count == 0 || ks.Any(k => k < 1)) throw new ArgumentException("Recall is measured at one or more positive ranks, such as 1, 3 and 5.", nameof(ks));
        var all = goals.ToList();
        var depth = ks.Max();
        var outcomes = new List<WordGoalOutcome>();
        for (int i = 0; i < all.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var goal = all[i];
            progress?.Report(new WordGoalProgress(i + 1, all.Count, false));
            var results = search(goal.Question, depth);
            var rank = results.Hits.FirstOrDefault(h => goal.IsAnsweredBy(h.Passage))?.Rank;
            var outcome = new WordGoalOutcome(goal, rank, results.NoGoodMatch, results.Hits, null, false, false, false);
            if (write is not null && !results.NoGoodMatch && results.Hits.Count > 0)
            {
                progress?.Report(new WordGoalProgress(i + 1, all.Count, true));
                var answer = await write(goal.Question, [.. results.Hits.Take(passagesForAnswer).Select(h => h.Passage)], ct).ConfigureAwait(false);
                outcome = outcome with
                {
                    Answer = answer.Text,
                    ContainsExpected = ContainsWords(answer.Text, goal.MustContain),
                    CitesRightPassage = answer.Citations.CitedPassages.Any(goal.IsAnsweredBy),
                    SaysNotAnswered = answer.SaysNotAnswered,
                };
            }
            outcomes.Add(outcome);
        }
        var recall = ks.Distinct().Order().ToDictionary(k => k,
            k => outcomes.Count == 0 ? 0 : outcomes.Count(o => o.Rank is { } r && r <= k) / (double)outcomes.Count);
        return new WordGoalReport(recall, outcomes, write is not null);
    }
}

/// <summary>
/// Reads a question set: one goal test per line, either in the form users type ("question -> file / section / must
/// contain", see <see cref="RetrievalQuestion.Parse"/>) or as JSON (<c>{"question": ..., "file": ..., "section": ...,
/// "contains": ...}</c>). Blank lines and lines starting with '#' are skipped.
/// </summary>
public static class RetrievalQuestionFile
{
    private sealed record JsonQuestion(string? Question, string? File, string? Section, string? Contains);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyList<RetrievalQuestion> Read(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"The question file '{path}' does not exist.");
        var questions = new List<RetrievalQuestion>();
        var lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            try
            {
                questions.Add(line.StartsWith('{') ? FromJson(line) : RetrievalQuestion.Parse(line));
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                throw new EngineException($"Line {lineNumber} of '{Path.GetFileName(path)}' is not a goal test: {e.Message}");
            }
        }
        if (questions.Count == 0)
            throw new EngineException($"'{Path.GetFileName(path)}' has no questions. Write one per line, for example: How many days of holiday do we get? -> handbook.md / Annual leave / 28 days");
        return questions;
    }

    private static RetrievalQuestion FromJson(string line)
    {
        var q = JsonSerializer.Deserialize<JsonQuestion>(line, Json) ?? throw new FormatException("the line is empty JSON.");
        if (string.IsNullOrWhiteSpace(q.Question) || string.IsNullOrWhiteSpace(q.File))
            throw new FormatException("it needs \"question\" and \"file\" (and optionally \"section\" and \"contains\").");
        static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        return new RetrievalQuestion(q.Question.Trim(), q.File.Trim(), Blank(q.Section), Blank(q.Contains));
    }
}
