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
