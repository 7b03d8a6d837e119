using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// One found passage as other programs receive it. <see cref="Number"/> is what an answer's "[n]" refers to;
/// <see cref="Matches"/> are offsets into <see cref="Text"/> (UTF-16 characters) of the question's words.
/// Heading, page, row and line are left out when unknown.
/// </summary>
public sealed record AskPassage(
    int Number,
    string Id,
    string File,
    string? Heading,
    int? Page,
    int? Row,
    int? Line,
    string Text,
    double Score,
    double Coverage,
    IReadOnlyList<AskMatch> Matches);

public sealed record AskMatch(int Start, int Length);

/// <summary>
/// The answer to "ask our documents" as JSON, the same for <c>slm ask --json</c> and the portal's API:
/// <see cref="Passages"/> always (empty when nothing matched well enough, with <see cref="Message"/> saying so);
/// <see cref="Answer"/> and <see cref="Citations"/> only when a model wrote an answer.
/// </summary>
public sealed record AskResponse(
    string Question,
    string? Answer,
    IReadOnlyList<int>? Citations,
    IReadOnlyList<int>? UnknownCitations,
    bool? NotAnswered,
    int? PassagesReadByModel,
    IReadOnlyList<AskPassage> Passages,
    string? Message)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // Headings and answers as people wrote them ("›", "don't"), not as \u escapes; the JSON is never put into HTML as is.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static AskResponse From(SearchResults results, WrittenAnswer? answer = null)
    {
        var passages = results.Hits.Select(h => new AskPassage(
            h.Rank, h.Passage.Id, h.Passage.File, h.Passage.HeadingPath.Count > 0 ? h.Passage.Heading : null,
            h.Passage.Page, h.Passage.Row, h.Passage.Line, h.Passage.Text,
            Math.Round(h.Score, 4), Math.Round(h.QueryCoverage, 4),
            [.. h.Matches.Select(m => new AskMatch(m.Start, m.Length))])).ToList();
        if (answer is null) return new AskResponse(results.Question, null, null, null, null, null, passages, results.Message);
        var cited = answer.Citations.Citations.Where(c => c.Passage is not null).Select(c => c.Number).Distinct().ToList();
        var unknown = answer.Citations.UnknownNumbers;
        return new AskResponse(results.Question, answer.Text, cited, unknown.Count > 0 ? unknown : null, answer.SaysNotAnswered,
            answer.PassagesRead.Count, passages, results.Message);
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
