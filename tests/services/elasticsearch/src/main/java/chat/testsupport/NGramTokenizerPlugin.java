package chat.testsupport;

import java.util.List;
import java.util.Map;

import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * Registers the {@code ngram} tokenizer, which Elasticsearch ships in its {@code analysis-common}
 * module (not published on Maven Central for 8.x). The tokens come from Lucene's own
 * {@link NGramTokenizer}, the class that module wraps too; this plugin only reads the settings
 * {@code min_gram} and {@code max_gram} (defaults 1 and 2, as in the module), checks them against
 * {@code index.max_ngram_diff} as the module does, and refuses {@code token_chars} other than
 * empty (every character is a token character), the only form the chat index uses.
 */
public final class NGramTokenizerPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        AnalysisProvider<TokenizerFactory> ngram = (indexSettings, environment, name, settings) -> {
            int min = settings.getAsInt("min_gram", NGramTokenizer.DEFAULT_MIN_NGRAM_SIZE);
            int max = settings.getAsInt("max_gram", NGramTokenizer.DEFAULT_MAX_NGRAM_SIZE);
            int allowedDiff = indexSettings.getMaxNgramDiff();
            if (max - min > allowedDiff) {
                throw new IllegalArgumentException(
                    "The difference between max_gram and min_gram in NGram Tokenizer must be less than or equal to: ["
                        + allowedDiff + "] but was [" + (max - min) + "]");
            }
            List<String> tokenChars = settings.getAsList("token_chars", List.of());
            if (!tokenChars.isEmpty()) {
                throw new IllegalArgumentException(
                    "this test node's ngram tokenizer supports only an empty token_chars, not " + tokenChars);
            }
            return TokenizerFactory.newFactory(name, () -> new NGramTokenizer(min, max));
        };
        return Map.of("ngram", ngram);
    }
}
