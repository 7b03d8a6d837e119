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
/// stop words, Porter stemming ("leaves", "leave" and "leaving" match). The stop words are the widely used NLTK English
/// list (which adds pronouns, auxiliaries and particles such as "off" and "out" to Lucene's short list) plus the words
/// questions are made of ("need", "get", "tell", "many", "must"): they say nothing about the topic, and counting them
/// would let the relevance rule (see <see cref="SearchIndex"/>) take "we can" in any passage as half an answer.
/// </summary>
public sealed class PassageAnalyzer : Analyzer
{
    /// <summary>Written into the index manifest: an index is only searched with the analysis it was built with.</summary>
    public const string Name = "english-porter-nltk-stopwords-v1";

    internal const LuceneVersion Version = LuceneVersion.LUCENE_48;

    private static readonly string[] NltkEnglishStopWords =
    [
        "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "you're", "you've", "you'll", "you'd", "your",
        "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "she's", "her", "hers", "herself", "it",
        "it's", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this",
        "that", "that'll", "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had",
        "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or", "because", "as", "until",
        "while", "of", "at", "by", "for", "with", "about", "against", "between", "into", "through", "during", "before",
        "after", "above", "below", "to", "from", "up", "down", "in", "out", "on", "off", "over", "under", "again",
        "further", "then", "once", "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few",
        "more", "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than", "too", "very",
        "s", "t", "can", "will", "just", "don", "don't", "should", "should've", "now", "d", "ll", "m", "o", "re", "ve", "y",
        "ain", "aren", "aren't", "couldn", "couldn't", "didn", "didn't", "doesn", "doesn't", "hadn", "hadn't", "hasn",
        "hasn't", "haven", "haven't", "isn", "isn't", "ma", "mightn", "mightn't", "mustn", "mustn't", "needn", "needn't",
        "shan", "shan't", "shouldn", "shouldn't", "wasn", "wasn't", "weren", "weren't", "won", "won't", "wouldn", "wouldn't",
    ];

    private static readonly string[] QuestionWords =
    [
        "whose", "could", "would", "shall", "may", "might", "must", "us", "mine", "done", "get", "gets", "got", "getting",
        "need", "needs", "want", "wants", "know", "tell", "please", "many", "much", "also", "anyone", "someone", "something",
        "anything", "everyone", "everything", "happen", "happens", "happened",
    ];

    private static readonly CharArraySet StopWords = BuildStopWords();

    private static CharArraySet BuildStopWords()
    {
        var set = new CharArraySet(Version, 256, ignoreCase: true);
        foreach (var w in EnglishAnalyzer.DefaultStopSet) set.Add(w.ToString());
        foreach (var w in NltkEnglishStopWords.Concat(QuestionWords)) set.Add(w);
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
