using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Core;
using Lucene.Net.Analysis.En;
using Lucene.Net.Analysis.Miscellaneous;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Analysis.Util;
using Lucene.Net.Util;

namespace SlmStudio.Core.Retrieval;

/// <summary>
/// English analysis for passages and questions alike: standard tokenizer, possessives and accents removed, lower case,
/// stop words, Porter stemming ("leaves", "leave" and "leaving" match). The stop words are Lucene's English list plus
/// the words every question is made of ("how", "what", "do", "we", "my", "can"): they carry nothing about the topic,
/// and counting them would make the relevance rule (see <see cref="SearchIndex"/>) call a question about anything
/// half-answered by any passage that happens to say "we can".
/// </summary>
public sealed class PassageAnalyzer : Analyzer
{
    /// <summary>Written into the index manifest: an index is only searched with the analysis it was built with.</summary>
    public const string Name = "english-porter-question-stopwords-v1";

    internal const LuceneVersion Version = LuceneVersion.LUCENE_48;

    private static readonly string[] QuestionWords =
    [
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did", "done", "doing",
        "can", "could", "should", "would", "shall", "may", "might", "must", "i", "me", "my", "mine", "we", "us", "our", "ours",
        "you", "your", "yours", "he", "she", "him", "her", "his", "its", "them", "am", "been", "being", "has", "have", "had",
        "having", "get", "gets", "got", "any", "some", "about", "from", "than", "so", "also", "there", "here", "many", "much",
        "need", "want", "know", "tell", "please", "up", "out", "all", "each", "every", "very", "just", "only",
    ];

    private static readonly CharArraySet StopWords = BuildStopWords();

    private static CharArraySet BuildStopWords()
    {
        var set = new CharArraySet(Version, EnglishAnalyzer.DefaultStopSet.Count + QuestionWords.Length, ignoreCase: true);
        foreach (var w in EnglishAnalyzer.DefaultStopSet) set.Add(w.ToString());
        foreach (var w in QuestionWords) set.Add(w);
        return set.AsReadOnly();
    }

    protected override TokenStreamComponents CreateComponents(string fieldName, TextReader reader)
    {
        var source = new StandardTokenizer(Version, reader);
        TokenStream result = new EnglishPossessiveFilter(Version, source);
        result = new ASCIIFoldingFilter(result);
        result = new LowerCaseFilter(Version, result);
        result = new StopFilter(Version, result, StopWords);
        result = new PorterStemFilter(result);
        return new TokenStreamComponents(source, result);
    }

    /// <summary>The analysed terms of <paramref name="text"/> with where each comes from in it.</summary>
    public IEnumerable<(string Term, int Start, int End)> Tokens(string text)
    {
        var tokens = new List<(string, int, int)>();
        using var stream = GetTokenStream(SearchIndex.ContentField, new StringReader(text));
        var term = stream.AddAttribute<ICharTermAttribute>();
        var offset = stream.AddAttribute<IOffsetAttribute>();
        stream.Reset();
        while (stream.IncrementToken()) tokens.Add((term.ToString(), offset.StartOffset, offset.EndOffset));
        stream.End();
        return tokens;
    }
}
